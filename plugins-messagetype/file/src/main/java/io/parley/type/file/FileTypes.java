package io.parley.type.file;

/** The names this bundle registers. */
final class FileTypes {
    static final String FILE = "file";
    static final String IMAGE = "image";
    static final String UPLOAD = "file.upload";
    static final String DOWNLOAD = "file.download";

    private FileTypes() {
    }
}
