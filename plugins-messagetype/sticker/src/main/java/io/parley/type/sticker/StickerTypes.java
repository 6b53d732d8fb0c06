package io.parley.type.sticker;

/** The names this bundle registers. */
final class StickerTypes {
    static final String STICKER = "sticker";
    static final String LIST = "sticker.list";
    static final String PUT = "sticker.pack.put";
    static final String WITHDRAW = "sticker.pack.withdraw";

    private StickerTypes() {
    }
}
