//! The fuzz targets' harnesses (see each module's documentation).

pub mod c_abi;
pub mod image_decode;
pub mod model_load;
pub mod pixel_buffer;
pub mod qgemm;
