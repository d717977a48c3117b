package org.resnext;

/** The named preprocessing presets of the ResNeXt101 WSL family. */
public enum Preset {
    /** ResNeXt101_32x{8,16,32,48}d_wsl: resize the short side to 256, centre crop 224. */
    WSL_224(256, 224),
    /** Fix_ResNeXt101_32x48d_wsl: resize the short side to 320, centre crop 320. */
    FIX_320(320, 320);

    private final int resizeShort;
    private final int crop;

    Preset(int resizeShort, int crop) {
        this.resizeShort = resizeShort;
        this.crop = crop;
    }

    /** Target length of the short side after resizing. */
    public int resizeShort() {
        return resizeShort;
    }

    /** Side of the square centre crop (the model's input size). */
    public int crop() {
        return crop;
    }
}
