package io.parley.admin.internal;

import java.util.ArrayList;
import java.util.List;

/** A plain text table: a header row, columns padded to their widest cell, two spaces apart. Not thread-safe. */
final class Table {
    private final List<String[]> rows = new ArrayList<>();
    private final int columns;

    Table(String... header) {
        this.columns = header.length;
        rows.add(header);
    }

    Table row(Object... cells) {
        String[] r = new String[columns];
        for (int i = 0; i < columns; i++) {
            r[i] = i < cells.length && cells[i] != null ? cells[i].toString() : "-";
        }
        rows.add(r);
        return this;
    }

    /** @return the rows, one per line ({@code \n}), trailing spaces trimmed; the last line without a newline */
    @Override
    public String toString() {
        int[] width = new int[columns];
        for (String[] r : rows) {
            for (int i = 0; i < columns; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        StringBuilder out = new StringBuilder();
        for (String[] r : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < columns; i++) {
                line.append(r[i]);
                if (i < columns - 1) {
                    line.append(" ".repeat(width[i] - r[i].length() + 2));
                }
            }
            if (out.length() > 0) {
                out.append('\n');
            }
            out.append(line.toString().stripTrailing());
        }
        return out.toString();
    }

    /** {@code 42s}, {@code 3m04s}, {@code 5h02m}, {@code 2d03h} */
    static String duration(long millis) {
        long s = Math.max(0, millis) / 1000;
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return String.format("%dm%02ds", s / 60, s % 60);
        }
        if (s < 86400) {
            return String.format("%dh%02dm", s / 3600, (s / 60) % 60);
        }
        return String.format("%dd%02dh", s / 86400, (s / 3600) % 24);
    }
}
