package io.parley.config.guard.internal;

import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.util.Collection;
import java.util.Locale;

/**
 * What one configuration key accepts: its type as the component declares it ({@code <property type="Integer">} in
 * the component description, which bnd writes from the configuration annotation), narrowed by the metatype's
 * {@code min}/{@code max} when the annotation declares them ({@code @AttributeDefinition(min = "0")}), and by one
 * convention: an Integer key named {@code port} or {@code *.port} without a declared range accepts 0 to 65535.
 *
 * <p>Immutable and thread-safe.
 *
 * @param type DS property type: String, Long, Double, Float, Integer, Byte, Character, Boolean or Short
 * @param min  inclusive lower bound for numbers, or null for the type's own
 * @param max  inclusive upper bound for numbers, or null for the type's own
 */
record Rule(String type, BigDecimal min, BigDecimal max) {

    static Rule of(String key, String type, String min, String max) {
        String t = type == null || type.isBlank() ? "String" : type.strip();
        BigDecimal lo = decimal(min);
        BigDecimal hi = decimal(max);
        if (lo == null && hi == null && "Integer".equals(t) && (key.equals("port") || key.endsWith(".port"))) {
            lo = BigDecimal.ZERO;
            hi = BigDecimal.valueOf(65_535);
        }
        return new Rule(t, lo, hi);
    }

    private static BigDecimal decimal(String s) {
        if (s == null || s.isBlank()) {
            return null;
        }
        try {
            return new BigDecimal(s.strip());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** @return true if values of this rule can be wrong at all (a String accepts anything) */
    boolean checks() {
        return !"String".equals(type);
    }

    /**
     * @param value a configuration value: a String from a {@code .cfg} file, a typed value, or an array or collection
     *              of either
     * @return null if the value is acceptable, else why not ("is not a number"), to be followed by {@link #allowed()}
     */
    String problem(Object value) {
        if (value == null) {
            return null;
        }
        if (value.getClass().isArray()) {
            for (int i = 0; i < Array.getLength(value); i++) {
                String p = problem(Array.get(value, i));
                if (p != null) {
                    return p;
                }
            }
            return null;
        }
        if (value instanceof Collection<?> c) {
            for (Object o : c) {
                String p = problem(o);
                if (p != null) {
                    return p;
                }
            }
            return null;
        }
        switch (type) {
            case "Boolean" -> {
                if (value instanceof Boolean) {
                    return null;
                }
                String s = value.toString().strip().toLowerCase(Locale.ROOT);
                return s.equals("true") || s.equals("false") ? null : "is not true or false";
            }
            case "Character" -> {
                return value instanceof Character || value.toString().length() == 1 ? null : "is not one character";
            }
            case "Integer", "Long", "Short", "Byte", "Double", "Float" -> {
                BigDecimal n;
                try {
                    n = new BigDecimal(value instanceof Number ? value.toString() : value.toString().strip());
                } catch (NumberFormatException e) {
                    return "is not a number";
                }
                if (integral() && n.stripTrailingZeros().scale() > 0) {
                    return "is not a whole number";
                }
                BigDecimal lo = lowest();
                BigDecimal hi = highest();
                if ((lo != null && n.compareTo(lo) < 0) || (hi != null && n.compareTo(hi) > 0)) {
                    return "is out of range";
                }
                return null;
            }
            default -> {
                return null;
            }
        }
    }

    /** The accepted values in words, e.g. "an integer from 0 to 65535", "true or false". */
    String allowed() {
        return switch (type) {
            case "Boolean" -> "true or false";
            case "Character" -> "one character";
            case "Integer", "Long", "Short", "Byte" -> "an integer from " + lowest().toPlainString() + " to "
                    + highest().toPlainString();
            case "Double", "Float" -> lowest() == null && highest() == null ? "a number"
                    : lowest() == null ? "a number up to " + highest().toPlainString()
                    : highest() == null ? "a number from " + lowest().toPlainString()
                    : "a number from " + lowest().toPlainString() + " to " + highest().toPlainString();
            default -> "any text";
        };
    }

    private boolean integral() {
        return switch (type) {
            case "Integer", "Long", "Short", "Byte" -> true;
            default -> false;
        };
    }

    private BigDecimal lowest() {
        BigDecimal own = switch (type) {
            case "Integer" -> BigDecimal.valueOf(Integer.MIN_VALUE);
            case "Long" -> BigDecimal.valueOf(Long.MIN_VALUE);
            case "Short" -> BigDecimal.valueOf(Short.MIN_VALUE);
            case "Byte" -> BigDecimal.valueOf(Byte.MIN_VALUE);
            default -> null;
        };
        return min == null ? own : own == null ? min : min.max(own);
    }

    private BigDecimal highest() {
        BigDecimal own = switch (type) {
            case "Integer" -> BigDecimal.valueOf(Integer.MAX_VALUE);
            case "Long" -> BigDecimal.valueOf(Long.MAX_VALUE);
            case "Short" -> BigDecimal.valueOf(Short.MAX_VALUE);
            case "Byte" -> BigDecimal.valueOf(Byte.MAX_VALUE);
            default -> null;
        };
        return max == null ? own : own == null ? max : max.min(own);
    }
}
