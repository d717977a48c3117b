//! Python image objects (paths, encoded bytes, numpy arrays, camera frames, PIL images) turned
//! into the SDK's [`ImageInput`]s. The Python objects stay referenced by the [`HeldImage`] while
//! the GIL is released, so the borrowed pixels stay alive; contiguous numpy arrays and arrays
//! whose rows are contiguous (crops, views of a larger frame) are read in place, other strided
//! views are copied once.

use crate::errors::invalid;
use crate::options::as_path;
use numpy::{
    PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView};
use resnext::{ImageInput, PixelBuffer, PixelFormat, Roi, Rotation, YuvPlanes};
use std::path::PathBuf;

/// How raw pixels are laid out, from `classify`'s keyword arguments.
#[derive(Debug, Clone, Copy)]
pub struct PixelArgs {
    /// `pixel_format`, parsed; `None` when not given.
    pub format: Option<PixelFormat>,
    /// `width` and `height` of a camera frame given as flat bytes.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// `rotation` in degrees (clockwise).
    pub rotation: Rotation,
    /// `row_stride` in bytes for flat buffers (0: tightly packed).
    pub row_stride: usize,
    /// `roi=(x, y, width, height)`: the region of interest, `None` for the whole image.
    pub roi: Option<Roi>,
}

impl PixelArgs {
    /// Parses `pixel_format` (`rgb`, `bgr`, `rgba`, `bgra`, `nv21`, `nv12`; the SDK's names
    /// `rgb8`... too) and `rotation`.
    pub fn parse(
        py: Python<'_>,
        pixel_format: Option<&str>,
        width: Option<u32>,
        height: Option<u32>,
        rotation: u32,
        row_stride: usize,
        roi: Option<(i64, i64, i64, i64)>,
    ) -> PyResult<PixelArgs> {
        let format = match pixel_format.map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("rgb" | "rgb8") => Some(PixelFormat::Rgb8),
            Some("bgr" | "bgr8") => Some(PixelFormat::Bgr8),
            Some("rgba" | "rgba8") => Some(PixelFormat::Rgba8),
            Some("bgra" | "bgra8") => Some(PixelFormat::Bgra8),
            Some("nv21") => Some(PixelFormat::Nv21),
            Some("nv12") => Some(PixelFormat::Nv12),
            Some(other) => {
                return Err(invalid(
                    py,
                    format!("unknown pixel_format '{other}' (rgb, bgr, rgba, bgra, nv21 or nv12)"),
                ))
            }
        };
        let rotation = Rotation::from_degrees(rotation).map_err(|e| invalid(py, e.message()))?;
        let roi = match roi {
            None => None,
            Some((x, y, w, h)) => {
                let field = |value: i64, what: &str| {
                    u32::try_from(value).map_err(|_| {
                        invalid(py, format!("roi {what} must be in 0..=4294967295, got {value}"))
                    })
                };
                Some(Roi {
                    x: field(x, "x")?,
                    y: field(y, "y")?,
                    width: field(w, "width")?,
                    height: field(h, "height")?,
                })
            }
        };
        Ok(PixelArgs { format, width, height, rotation, row_stride, roi })
    }

    fn is_raw(&self) -> bool {
        self.format.is_some() || self.width.is_some() || self.height.is_some()
    }
}

/// Geometry of a raw buffer, fixed when the image is taken from Python.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    width: u32,
    height: u32,
    row_stride: usize,
    format: PixelFormat,
    rotation: Rotation,
}

impl Layout {
    fn buffer<'a>(&self, data: &'a [u8]) -> PixelBuffer<'a> {
        PixelBuffer {
            data,
            width: self.width,
            height: self.height,
            row_stride: self.row_stride,
            format: self.format,
            rotation: self.rotation,
        }
    }
}

/// A planar YUV 4:2:0 camera frame (Android's ``YUV_420_888``, I420, or NV21/NV12 memory as
/// planes): three planes (``bytes``, or contiguous numpy ``uint8`` arrays, read in place; other
/// buffers are copied once), the Y row stride, the chroma row stride and the chroma pixel
/// stride (1 or 2). Converted with the same BT.601 formula as NV21. ``rotation`` and ``roi`` are
/// given to the classify call, as for other raw pixels.
#[pyclass(module = "resnext", frozen)]
pub struct Yuv420 {
    y: Py<PyAny>,
    u: Py<PyAny>,
    v: Py<PyAny>,
    #[pyo3(get)]
    width: u32,
    #[pyo3(get)]
    height: u32,
    #[pyo3(get)]
    y_row_stride: usize,
    #[pyo3(get)]
    uv_row_stride: usize,
    #[pyo3(get)]
    uv_pixel_stride: usize,
}

#[pymethods]
impl Yuv420 {
    #[new]
    #[pyo3(signature = (y, u, v, *, width, height, y_row_stride, uv_row_stride, uv_pixel_stride))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        y: Py<PyAny>,
        u: Py<PyAny>,
        v: Py<PyAny>,
        width: u32,
        height: u32,
        y_row_stride: usize,
        uv_row_stride: usize,
        uv_pixel_stride: usize,
    ) -> Self {
        Yuv420 { y, u, v, width, height, y_row_stride, uv_row_stride, uv_pixel_stride }
    }

    fn __repr__(&self) -> String {
        format!(
            "Yuv420(width={}, height={}, y_row_stride={}, uv_row_stride={}, uv_pixel_stride={})",
            self.width, self.height, self.y_row_stride, self.uv_row_stride, self.uv_pixel_stride
        )
    }
}

/// One plane of a [`Yuv420`] frame, held for the call.
pub enum HeldPlane<'py> {
    /// Borrowed from a `bytes` object.
    Bytes(Bound<'py, PyBytes>),
    /// Borrowed from a C-contiguous numpy `uint8` array.
    Array(PyReadonlyArrayDyn<'py, u8>),
    /// Copied (a `bytearray`, a `memoryview`, a strided array).
    Owned(Vec<u8>),
}

impl HeldPlane<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            HeldPlane::Bytes(bytes) => bytes.as_bytes(),
            // SAFETY: `take_plane` keeps C-contiguous arrays only, whose `len()` bytes start at
            // the data pointer; the readonly borrow keeps the array alive.
            HeldPlane::Array(array) => unsafe {
                std::slice::from_raw_parts(array.data() as *const u8, array.len())
            },
            HeldPlane::Owned(data) => data,
        }
    }
}

fn take_plane<'py>(plane: &Bound<'py, PyAny>, name: &str) -> PyResult<HeldPlane<'py>> {
    let py = plane.py();
    if let Ok(bytes) = plane.cast::<PyBytes>() {
        return Ok(HeldPlane::Bytes(bytes.clone()));
    }
    if let Ok(array) = plane.cast::<PyUntypedArray>() {
        let typed = array.cast::<PyArrayDyn<u8>>().map_err(|_| {
            PyTypeError::new_err(format!("the {name} plane must be uint8, got {}", array.dtype()))
        })?;
        let readonly = typed.try_readonly().map_err(|e| invalid(py, e.to_string()))?;
        if array.is_c_contiguous() {
            return Ok(HeldPlane::Array(readonly));
        }
        return Ok(HeldPlane::Owned(readonly.as_array().iter().copied().collect()));
    }
    if plane.is_instance_of::<PyByteArray>() || plane.is_instance_of::<PyMemoryView>() {
        let copied = py.import("builtins")?.getattr("bytes")?.call1((plane,))?;
        return Ok(HeldPlane::Owned(
            copied.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes().to_vec(),
        ));
    }
    Err(PyTypeError::new_err(format!(
        "the {name} plane must be bytes, a bytearray, a memoryview or a numpy uint8 array, not {}",
        plane.get_type().name()?
    )))
}

/// One image taken from Python, holding what it borrows.
pub enum HeldImage<'py> {
    /// A file path.
    Path(PathBuf),
    /// Encoded bytes, borrowed from a `bytes` object.
    Encoded(Bound<'py, PyBytes>),
    /// Encoded bytes copied from a mutable buffer (`bytearray`, `memoryview`).
    EncodedOwned(Vec<u8>),
    /// Raw pixels read in place from a numpy array: `len` bytes from its data pointer.
    Array(PyReadonlyArrayDyn<'py, u8>, usize, Layout),
    /// Raw pixels borrowed from a `bytes` object.
    Bytes(Bound<'py, PyBytes>, Layout),
    /// Raw pixels copied (a strided view, a `bytearray`).
    Owned(Vec<u8>, Layout),
    /// A planar YUV 4:2:0 frame: Y, U, V and the geometry (`y`, `u`, `v` of the planes view
    /// are placeholders filled from the held planes).
    Yuv420(Box<[HeldPlane<'py>; 3]>, YuvPlanes<'static>),
}

impl HeldImage<'_> {
    /// The SDK's view of the image. Valid while `self` lives (the GIL may be released).
    pub fn input(&self) -> ImageInput<'_> {
        match self {
            HeldImage::Path(path) => ImageInput::Path(path),
            HeldImage::Encoded(bytes) => ImageInput::Encoded(bytes.as_bytes()),
            HeldImage::EncodedOwned(bytes) => ImageInput::Encoded(bytes),
            HeldImage::Array(array, len, layout) => {
                // SAFETY: `take_array` checked that `len` bytes from the data pointer lie
                // inside the array (its rows are contiguous, the strides positive); the
                // readonly borrow keeps the array, and so its memory, alive.
                let data = unsafe { std::slice::from_raw_parts(array.data() as *const u8, *len) };
                ImageInput::Pixels(layout.buffer(data))
            }
            HeldImage::Bytes(bytes, layout) => ImageInput::Pixels(layout.buffer(bytes.as_bytes())),
            HeldImage::Owned(data, layout) => ImageInput::Pixels(layout.buffer(data)),
            HeldImage::Yuv420(planes, geometry) => ImageInput::Yuv420(YuvPlanes {
                y: planes[0].as_slice(),
                u: planes[1].as_slice(),
                v: planes[2].as_slice(),
                ..*geometry
            }),
        }
    }
}

fn to_u32(py: Python<'_>, value: usize, what: &str) -> PyResult<u32> {
    u32::try_from(value).map_err(|_| invalid(py, format!("{what} {value} is too large")))
}

/// Takes one image: `str`/`os.PathLike` (a file), `bytes` (encoded, or a raw frame when
/// `pixel_format`/`width`/`height` are given), a numpy `uint8` array (`H x W x 3`, `H x W x 4`,
/// or a `(H * 3 / 2) x W` NV21/NV12 frame), or a PIL image.
pub fn take<'py>(image: &Bound<'py, PyAny>, args: &PixelArgs) -> PyResult<HeldImage<'py>> {
    let py = image.py();
    if let Ok(array) = image.cast::<PyUntypedArray>() {
        return take_array(array, args);
    }
    if let Ok(frame) = image.cast::<Yuv420>() {
        if args.is_raw() || args.row_stride != 0 {
            return Err(invalid(
                py,
                "a Yuv420 frame carries its own geometry: omit pixel_format, width, height and \
                 row_stride",
            ));
        }
        let f = frame.get();
        let planes = [
            take_plane(f.y.bind(py), "y")?,
            take_plane(f.u.bind(py), "u")?,
            take_plane(f.v.bind(py), "v")?,
        ];
        let geometry = YuvPlanes {
            y: &[],
            u: &[],
            v: &[],
            width: f.width,
            height: f.height,
            y_row_stride: f.y_row_stride,
            uv_row_stride: f.uv_row_stride,
            uv_pixel_stride: f.uv_pixel_stride,
            rotation: args.rotation,
        };
        return Ok(HeldImage::Yuv420(Box::new(planes), geometry));
    }
    if let Ok(bytes) = image.cast::<PyBytes>() {
        return if args.is_raw() {
            Ok(HeldImage::Bytes(bytes.clone(), flat_layout(py, args)?))
        } else {
            Ok(HeldImage::Encoded(bytes.clone()))
        };
    }
    if image.is_instance_of::<PyByteArray>() || image.is_instance_of::<PyMemoryView>() {
        let copied = py.import("builtins")?.getattr("bytes")?.call1((image,))?;
        let data = copied.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes().to_vec();
        return if args.is_raw() {
            let layout = flat_layout(py, args)?;
            Ok(HeldImage::Owned(data, layout))
        } else {
            Ok(HeldImage::EncodedOwned(data))
        };
    }
    if let Some(path) = as_path(image)? {
        if args.is_raw() || args.rotation != Rotation::R0 {
            return Err(invalid(
                py,
                "pixel_format, width, height and rotation describe raw pixels, not an image file \
                 (a file's EXIF orientation is applied)",
            ));
        }
        return Ok(HeldImage::Path(path));
    }
    if is_pil_image(image)? {
        return take_pil(image, args);
    }
    Err(PyTypeError::new_err(format!(
        "image must be a path, encoded bytes, a numpy uint8 array or a PIL image, not {}",
        image.get_type().name()?
    )))
}

/// The layout of a raw frame given as flat bytes: `width` and `height` are required, the format
/// defaults to NV21 (the camera's). The SDK checks the length against it (`BUFFER_SIZE`).
fn flat_layout(py: Python<'_>, args: &PixelArgs) -> PyResult<Layout> {
    let (Some(width), Some(height)) = (args.width, args.height) else {
        return Err(invalid(py, "a raw frame given as bytes needs width= and height="));
    };
    Ok(Layout {
        width,
        height,
        row_stride: args.row_stride,
        format: args.format.unwrap_or(PixelFormat::Nv21),
        rotation: args.rotation,
    })
}

fn take_array<'py>(
    array: &Bound<'py, PyUntypedArray>,
    args: &PixelArgs,
) -> PyResult<HeldImage<'py>> {
    let py = array.py();
    let typed = array.cast::<PyArrayDyn<u8>>().map_err(|_| {
        let dtype = array.dtype().to_string();
        PyTypeError::new_err(format!(
            "image arrays must be uint8, got dtype {dtype} (convert with .astype(numpy.uint8))"
        ))
    })?;
    if args.width.is_some() || args.height.is_some() || args.row_stride != 0 {
        return Err(invalid(py, "an array gives its own width, height and stride: omit them"));
    }
    let shape = array.shape().to_vec();
    let strides = array.strides().to_vec();
    let (height, width, channels, format) = match (shape.as_slice(), args.format) {
        (&[h, w, c], format) if c == 3 || c == 4 => {
            let format = match (c, format) {
                (3, None | Some(PixelFormat::Rgb8)) => PixelFormat::Rgb8,
                (3, Some(PixelFormat::Bgr8)) => PixelFormat::Bgr8,
                (4, None | Some(PixelFormat::Rgb8 | PixelFormat::Rgba8)) => PixelFormat::Rgba8,
                (4, Some(PixelFormat::Bgr8 | PixelFormat::Bgra8)) => PixelFormat::Bgra8,
                (_, Some(f)) => {
                    return Err(invalid(
                        py,
                        format!("pixel_format '{}' does not fit an H x W x {c} array", f.name()),
                    ))
                }
                _ => unreachable!("c is 3 or 4"),
            };
            (h, w, c, format)
        }
        (&[rows, w], Some(f @ (PixelFormat::Nv21 | PixelFormat::Nv12))) => {
            if rows % 3 != 0 {
                return Err(invalid(
                    py,
                    format!("an NV21/NV12 array has (height * 3 / 2) rows, got {rows}"),
                ));
            }
            (rows / 3 * 2, w, 1, f)
        }
        (shape, _) => {
            return Err(invalid(
                py,
                format!(
                "image arrays are H x W x 3 (RGB, or BGR with pixel_format=\"bgr\"), H x W x 4, \
                     or (H * 3 / 2) x W with pixel_format=\"nv21\"/\"nv12\"; got shape {shape:?}"
            ),
            ))
        }
    };
    let layout_with = |row_stride: usize| -> PyResult<Layout> {
        Ok(Layout {
            width: to_u32(py, width, "width")?,
            height: to_u32(py, height, "height")?,
            row_stride,
            format,
            rotation: args.rotation,
        })
    };
    let readonly = typed.try_readonly().map_err(|e| invalid(py, e.to_string()))?;
    let rows = shape[0];
    let row_bytes = width * channels;
    // Rows contiguous (each pixel's channels adjacent, pixels adjacent), rows at a positive
    // stride at least one row long: the buffer is read in place with that row stride.
    let pixel_ok = shape.len() == 2 || strides[2] == 1;
    let col_step = if shape.len() == 3 { channels as isize } else { 1 };
    let in_place = rows > 0
        && width > 0
        && pixel_ok
        && (width == 1 || strides[1] == col_step)
        && (rows == 1 || strides[0] >= row_bytes as isize);
    if in_place {
        let row_stride = if rows == 1 { row_bytes } else { strides[0] as usize };
        let len = row_stride * (rows - 1) + row_bytes;
        return Ok(HeldImage::Array(readonly, len, layout_with(row_stride)?));
    }
    let copied: Vec<u8> = readonly.as_array().iter().copied().collect();
    Ok(HeldImage::Owned(copied, layout_with(0)?))
}

fn is_pil_image(image: &Bound<'_, PyAny>) -> PyResult<bool> {
    let module: String = image.get_type().getattr("__module__")?.extract().unwrap_or_default();
    Ok(module.starts_with("PIL.") && image.hasattr("mode")? && image.hasattr("convert")?)
}

/// A PIL image: RGB and RGBA are read as they are, other modes converted to RGB by PIL; the
/// channel order is always RGB (`pixel_format` may only say so).
fn take_pil<'py>(image: &Bound<'py, PyAny>, args: &PixelArgs) -> PyResult<HeldImage<'py>> {
    let py = image.py();
    if !matches!(args.format, None | Some(PixelFormat::Rgb8 | PixelFormat::Rgba8)) {
        return Err(invalid(py, "a PIL image is RGB: pixel_format must be omitted"));
    }
    let mode: String = image.getattr("mode")?.extract()?;
    let image = if mode == "RGB" || mode == "RGBA" {
        image.clone()
    } else {
        image.call_method1("convert", ("RGB",))?
    };
    let array = py.import("numpy")?.call_method1("asarray", (image,))?;
    let array = array.cast::<PyUntypedArray>().map_err(PyErr::from)?;
    take_array(array, &PixelArgs { format: None, ..*args })
}
