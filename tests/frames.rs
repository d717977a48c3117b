//! Planar YUV 4:2:0 frames and regions of interest through the public preprocessing entry point
//! (`resnext::preprocess_image`), on the fixture photo: every layout of a frame gives the NV21
//! tensor bit for bit, and a region gives the tensor of the cropped image bit for bit.

mod common;

use common::fixture;
use resnext::{
    preprocess_image, ErrorCode, ImageInput, PixelBuffer, PixelFormat, PreprocessConfig, Preset,
    Roi, Rotation, YuvPlanes,
};

const W: usize = 450;
const H: usize = 300;

fn config() -> PreprocessConfig {
    Preset::Wsl224.config()
}

fn tensor(input: ImageInput<'_>) -> Vec<f32> {
    preprocess_image(input, &config(), 1 << 30).unwrap()
}

/// Bit-for-bit equality (not approximate): the same tensor.
fn assert_same(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()), "tensors differ");
}

/// The fixture's NV21 frame (450 x 300, tight) and its Y, U, V planes.
fn planes() -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let nv21 = std::fs::read(fixture("preprocess/chelsea.nv21.bin")).unwrap();
    assert_eq!(nv21.len(), W * H * 3 / 2);
    let y = nv21[..W * H].to_vec();
    let u = nv21[W * H..].iter().skip(1).step_by(2).copied().collect();
    let v = nv21[W * H..].iter().step_by(2).copied().collect();
    (nv21, y, u, v)
}

/// `plane` (`width` bytes a row) at `stride` bytes a row, padding 0xEE.
fn pad(plane: &[u8], width: usize, stride: usize) -> Vec<u8> {
    plane
        .chunks(width)
        .flat_map(|r| r.iter().copied().chain(std::iter::repeat_n(0xEE, stride - width)))
        .collect()
}

#[test]
fn planar_frames_give_the_nv21_tensor() {
    let (nv21, y, u, v) = planes();
    let (cw, ch) = (W / 2, H / 2);
    let mut nv12 = y.clone();
    for i in 0..cw * ch {
        nv12.extend([u[i], v[i]]);
    }
    for rotation in [Rotation::R0, Rotation::R90, Rotation::R180, Rotation::R270] {
        let nv = |data, format| {
            ImageInput::Pixels(PixelBuffer::new(data, 450, 300, format).with_rotation(rotation))
        };
        let expected = tensor(nv(&nv21, PixelFormat::Nv21));
        assert_same(&expected, &tensor(nv(&nv12, PixelFormat::Nv12)));
        // Pixel stride 1: tight, and padded rows.
        let i420 = YuvPlanes::new(&y, &u, &v, 450, 300).with_rotation(rotation);
        assert_same(&expected, &tensor(ImageInput::Yuv420(i420)));
        let (py, pu, pv) = (pad(&y, W, 512), pad(&u, cw, 256), pad(&v, cw, 256));
        let padded = YuvPlanes::new(&py, &pu, &pv, 450, 300)
            .with_strides(512, 256, 1)
            .with_rotation(rotation);
        assert_same(&expected, &tensor(ImageInput::Yuv420(padded)));
        // Pixel stride 2 over the interleaved V/U plane, padded, planes ending at the last sample
        // (Android's layout), and over NV12 memory.
        let vu = pad(&nv21[W * H..], W, 512);
        let end = 512 * (ch - 1) + (cw - 1) * 2 + 1;
        let semi = YuvPlanes {
            u: &vu[1..1 + end],
            v: &vu[..end],
            ..YuvPlanes::new(&py, &[], &[], 450, 300)
        }
        .with_strides(512, 512, 2)
        .with_rotation(rotation);
        assert_same(&expected, &tensor(ImageInput::Yuv420(semi)));
        let uv = &nv12[W * H..];
        let nv12_planes = YuvPlanes::new(&y, &uv[..uv.len() - 1], &uv[1..], 450, 300)
            .with_strides(W, W, 2)
            .with_rotation(rotation);
        assert_same(&expected, &tensor(ImageInput::Yuv420(nv12_planes)));
    }
}

#[test]
fn regions_give_the_cropped_tensor() {
    let (nv21, y, u, v) = planes();
    let roi = Roi::new(100, 40, 256, 231);
    let (x, top, w, h) = (100, 40, 256, 231);
    // NV21 and planar: the cropped frame's planes.
    let crop = |plane: &[u8], stride: usize, x: usize, top: usize, w: usize, h: usize| -> Vec<u8> {
        (top..top + h).flat_map(|r| plane[r * stride + x..r * stride + x + w].to_vec()).collect()
    };
    let (cy, cu, cv) = (
        crop(&y, W, x, top, w, h),
        crop(&u, W / 2, x / 2, top / 2, w / 2, h.div_ceil(2)),
        crop(&v, W / 2, x / 2, top / 2, w / 2, h.div_ceil(2)),
    );
    for rotation in [Rotation::R0, Rotation::R90] {
        let expected = tensor(ImageInput::Yuv420(
            YuvPlanes::new(&cy, &cu, &cv, w as u32, h as u32).with_rotation(rotation),
        ));
        let whole = ImageInput::Pixels(
            PixelBuffer::new(&nv21, 450, 300, PixelFormat::Nv21).with_rotation(rotation),
        );
        assert_same(&expected, &tensor(whole.with_roi(Some(roi))));
        let planar =
            ImageInput::Yuv420(YuvPlanes::new(&y, &u, &v, 450, 300).with_rotation(rotation));
        assert_same(&expected, &tensor(planar.with_roi(Some(roi))));
    }
    // RGB and BGR pixels, with a row stride, and an encoded image (the decoded picture's region).
    let rgb = resnext::ImageInput::Path(&fixture("preprocess/chelsea.png"))
        .to_rgb(&resnext::preprocess::DecodeLimits::default())
        .unwrap();
    let (iw, ih) = (rgb.width as usize, rgb.height as usize);
    let stride = iw * 3 + 7;
    let padded = pad(&rgb.data, iw * 3, stride);
    let bgr: Vec<u8> = padded
        .chunks(stride)
        .flat_map(|row| {
            let mut row = row.to_vec();
            row[..iw * 3].chunks_exact_mut(3).for_each(|p| p.swap(0, 2));
            row
        })
        .collect();
    let cropped = crop(&rgb.data, iw * 3, x * 3, top, w * 3, h);
    for (data, format) in [(&padded, PixelFormat::Rgb8), (&bgr, PixelFormat::Bgr8)] {
        let expected = tensor(ImageInput::Pixels(
            PixelBuffer::new(&cropped, w as u32, h as u32, PixelFormat::Rgb8)
                .with_rotation(Rotation::R270),
        ));
        let whole = ImageInput::Pixels(
            PixelBuffer::new(data, iw as u32, ih as u32, format)
                .with_stride(stride)
                .with_rotation(Rotation::R270),
        );
        assert_same(&expected, &tensor(whole.with_roi(Some(roi))));
    }
    let expected = tensor(ImageInput::Pixels(PixelBuffer::new(
        &cropped,
        w as u32,
        h as u32,
        PixelFormat::Rgb8,
    )));
    let png = std::fs::read(fixture("preprocess/chelsea.png")).unwrap();
    assert_same(&expected, &tensor(ImageInput::Encoded(&png).with_roi(Some(roi))));
    let path = fixture("preprocess/chelsea.png");
    assert_same(&expected, &tensor(ImageInput::Path(&path).with_roi(Some(roi))));
    // Nested regions compose.
    let encoded = ImageInput::Encoded(&png);
    let outer = encoded.with_roi(Some(Roi::new(50, 20, 400, 280)));
    let inner = ImageInput::Region { image: &outer, roi: Roi::new(50, 20, 256, 231) };
    assert_same(&expected, &tensor(inner));
}

#[test]
fn bad_regions_are_refused() {
    let (nv21, ..) = planes();
    let frame = ImageInput::Pixels(PixelBuffer::new(&nv21, 450, 300, PixelFormat::Nv21));
    let err = |roi| preprocess_image(frame.with_roi(Some(roi)), &config(), 1 << 30).unwrap_err();
    for roi in [Roi::new(1, 0, 8, 8), Roi::new(0, 3, 8, 8)] {
        let e = err(roi);
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert!(e.message().contains("even"), "{}", e.message());
    }
    for roi in [Roi::new(0, 0, 0, 8), Roi::new(0, 0, 451, 8), Roi::new(u32::MAX - 1, 0, 8, 8)] {
        assert_eq!(err(roi).code(), ErrorCode::InvalidArgument);
    }
    // A region does not hide a bad buffer.
    let short = ImageInput::Pixels(PixelBuffer::new(&nv21[..1000], 450, 300, PixelFormat::Nv21));
    let e = preprocess_image(short.with_roi(Some(Roi::new(0, 0, 8, 8))), &config(), 1 << 30)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::BufferSize);
}
