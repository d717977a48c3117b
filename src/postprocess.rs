//! Post-processing: softmax over logits and top-k selection.

/// Softmax of one row, numerically stable (max subtracted), in place.
pub fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return;
    }
    let mut sum = 0.0f32;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    if sum > 0.0 {
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
}

/// The `k` highest scores of `row` as `(class_id, score)`, highest first; ties keep the lower
/// class id first. NaN scores sort last.
pub fn top_k(row: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut indexed: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
    let k = k.min(indexed.len());
    let order = |a: &(usize, f32), b: &(usize, f32)| {
        let key = |x: f32| if x.is_nan() { f32::NEG_INFINITY } else { x };
        key(b.1).total_cmp(&key(a.1)).then(a.0.cmp(&b.0))
    };
    if k < indexed.len() && k > 0 {
        indexed.select_nth_unstable_by(k - 1, order);
    }
    indexed.truncate(k);
    indexed.sort_by(order);
    indexed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one() {
        let mut row = vec![1.0, 2.0, 3.0, 1000.0];
        softmax_in_place(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[3] > 0.999);
    }

    #[test]
    fn top_k_order() {
        let row = [0.1, 0.5, f32::NAN, 0.5, 0.9];
        assert_eq!(top_k(&row, 3), vec![(4, 0.9), (1, 0.5), (3, 0.5)]);
        assert_eq!(top_k(&row, 10).len(), 5);
        assert!(top_k(&row, 0).is_empty());
    }
}
