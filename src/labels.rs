//! Class labels: the built-in ImageNet-1k list and custom label files.

use crate::error::{Error, ErrorCode, Result};
use std::path::Path;
use std::sync::Arc;

/// PaddleClas's ImageNet-1k label list (`<id> <names>` per line), compiled in.
const IMAGENET1K: &str = include_str!("../data/imagenet1k_label_list.txt");

/// Where a classifier's labels come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LabelSource {
    /// The built-in ImageNet-1k list (1000 classes). The default.
    #[default]
    ImageNet1k,
    /// A UTF-8 text file, one label per line, either `name` or PaddleClas's `<id> <name>`.
    File(std::path::PathBuf),
    /// Labels given in memory, in class order.
    List(Vec<String>),
    /// No labels: results carry an empty label.
    None,
}

/// An immutable list of labels, indexed by class id. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels(Arc<[String]>);

impl Labels {
    /// The built-in ImageNet-1k labels.
    pub fn imagenet1k() -> Labels {
        Labels::parse(IMAGENET1K)
    }

    /// Parses label text. Lines are either all `<id> <name>` with ids 0, 1, 2... in order
    /// (PaddleClas's format, ids stripped), or plain names. Trailing empty lines are ignored.
    pub fn parse(text: &str) -> Labels {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
        let n = lines.iter().rposition(|l| !l.trim().is_empty()).map_or(0, |i| i + 1);
        let lines = &lines[..n];
        let numbered = !lines.is_empty()
            && lines.iter().enumerate().all(|(i, line)| {
                line.split_once(' ').is_some_and(|(id, _)| id.parse::<usize>() == Ok(i))
            });
        let labels: Vec<String> = lines
            .iter()
            .map(|line| {
                let name = if numbered { line.split_once(' ').map_or("", |x| x.1) } else { line };
                name.trim().to_string()
            })
            .collect();
        Labels(labels.into())
    }

    /// Reads and parses a label file.
    pub fn from_file(path: &Path) -> Result<Labels> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::new(ErrorCode::Io, format!("reading labels {}: {e}", path.display()))
        })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::new(ErrorCode::Labels, format!("label file {} is not UTF-8", path.display()))
        })?;
        Ok(Labels::parse(&text))
    }

    /// Resolves a [`LabelSource`]; `None` gives an empty list.
    pub fn load(source: &LabelSource) -> Result<Labels> {
        match source {
            LabelSource::ImageNet1k => Ok(Labels::imagenet1k()),
            LabelSource::File(path) => Labels::from_file(path),
            LabelSource::List(list) => Ok(Labels(list.clone().into())),
            LabelSource::None => Ok(Labels(Vec::new().into())),
        }
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The label of a class, or `""` when out of range.
    pub fn get(&self, class_id: usize) -> &str {
        self.0.get(class_id).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_imagenet() {
        let labels = Labels::imagenet1k();
        assert_eq!(labels.len(), 1000);
        assert_eq!(labels.get(0), "tench, Tinca tinca");
        assert_eq!(labels.get(281), "tabby, tabby cat");
        assert_eq!(labels.get(999), "toilet tissue, toilet paper, bathroom tissue");
        assert_eq!(labels.get(1000), "");
    }

    #[test]
    fn plain_and_numbered_files() {
        assert_eq!(Labels::parse("cat\ndog\n\n").len(), 2);
        let numbered = Labels::parse("0 cat\r\n1 dog\r\n");
        assert_eq!((numbered.get(0), numbered.get(1)), ("cat", "dog"));
        // Numbers that are not 0..n in order are part of the names.
        let plain = Labels::parse("3 doors\n7 seas\n");
        assert_eq!(plain.get(0), "3 doors");
    }
}
