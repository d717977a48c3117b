package org.resnext;

/**
 * Layout of a raw pixel buffer. The ordinals equal the native {@code PixelFormat} values; do not
 * reorder.
 */
public enum PixelFormat {
    /** 3 bytes a pixel: R, G, B. */
    RGB8(3),
    /** 3 bytes a pixel: B, G, R (OpenCV's {@code Mat} order). */
    BGR8(3),
    /** 4 bytes a pixel: R, G, B, A (alpha ignored; Android {@code Bitmap.Config.ARGB_8888} in memory). */
    RGBA8(4),
    /** 4 bytes a pixel: B, G, R, A (alpha ignored). */
    BGRA8(4),
    /**
     * Android camera default: a Y plane, then interleaved V/U at half resolution (BT.601 limited
     * range). Width and height must be even.
     */
    NV21(0),
    /** A Y plane, then interleaved U/V at half resolution (BT.601 limited range). Width and height must be even. */
    NV12(0);

    private final int bytesPerPixel;

    PixelFormat(int bytesPerPixel) {
        this.bytesPerPixel = bytesPerPixel;
    }

    /** The native value (the ordinal). */
    public int value() {
        return ordinal();
    }

    /** Bytes a pixel for packed formats; 0 for the planar YUV formats. */
    public int bytesPerPixel() {
        return bytesPerPixel;
    }

    /**
     * The smallest buffer length for a {@code width x height} image with {@code rowStride} (0:
     * tightly packed), as the native library checks it; 0 for a zero or negative size.
     *
     * @throws ResnextException with {@link ErrorCode#INVALID_ARGUMENT} for {@link #NV21} or
     *     {@link #NV12} with an odd width or height, which the native library refuses the same way
     */
    public long requiredLength(int width, int height, int rowStride) {
        long w = width, h = height;
        long stride = rowStride != 0 ? rowStride : (bytesPerPixel != 0 ? w * bytesPerPixel : w);
        if (w <= 0 || h <= 0) {
            return 0;
        }
        if (bytesPerPixel == 0 && (w % 2 != 0 || h % 2 != 0)) {
            throw new ResnextException(ErrorCode.INVALID_ARGUMENT.value(), "invalid argument: "
                    + name() + " frames need an even width and height, got " + w + "x" + h);
        }
        if (bytesPerPixel != 0) {
            return stride * (h - 1) + w * bytesPerPixel;
        }
        long chromaRows = (h + 1) / 2;
        return stride * h + stride * (chromaRows - 1) + ((w + 1) / 2) * 2;
    }
}
