package io.parley.transport.support;

import io.netty.util.NetUtil;

import java.util.List;

/**
 * The {@code Host} rule of RFC 9112 §3.2, shared by the HTTP API and the WebSocket upgrade: a server answers 400 to
 * an HTTP/1.1 request without a {@code Host} header, to any request with more than one, and to one whose value is not
 * {@code uri-host [":" port]} (RFC 9110 §7.2, RFC 3986 §3.2.2). An empty value is valid (a target without an
 * authority). Only the syntax is judged, never the name: the server answers under any name it is reached by.
 *
 * <p>Threading: stateless.
 */
public final class HostHeader {

    private HostHeader() {
    }

    /**
     * @param values every {@code Host} header line of the request, in order
     * @param http11 whether the request is HTTP/1.1 (an HTTP/1.0 request may omit the header)
     * @return null if the request's {@code Host} is acceptable, else the reason to answer 400 with
     */
    public static String problem(List<String> values, boolean http11) {
        if (values.size() > 1) {
            return "more than one Host header";
        }
        if (values.isEmpty()) {
            return http11 ? "an HTTP/1.1 request needs a Host header" : null;
        }
        return valid(values.get(0).trim()) ? null : "malformed Host header";
    }

    /**
     * {@code uri-host [":" port]}: an IP literal in brackets (an IPv6 address without a zone, RFC 6874 §4, or an
     * IPvFuture) or a reg-name (which covers IPv4); a port only after a host.
     */
    static boolean valid(String host) {
        int end = host.length();
        int colon = host.lastIndexOf(':');
        int close = host.lastIndexOf(']');
        if (colon > close) { // a port
            for (int i = colon + 1; i < end; i++) {
                if (host.charAt(i) < '0' || host.charAt(i) > '9') {
                    return false;
                }
            }
            if (colon == 0) {
                return false; // a port without a host
            }
            end = colon;
        }
        if (end > 0 && host.charAt(0) == '[') {
            return close == end - 1 && ipLiteral(host.substring(1, close));
        }
        for (int i = 0; i < end; i++) {
            char c = host.charAt(i);
            if (c == '%') { // pct-encoded
                if (i + 2 >= end || !hex(host.charAt(i + 1)) || !hex(host.charAt(i + 2))) {
                    return false;
                }
                i += 2;
            } else if (!unreserved(c) && !subDelim(c)) {
                return false;
            }
        }
        return true;
    }

    /** The inside of {@code [...]}: {@code "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )}, or IPv6. */
    private static boolean ipLiteral(String inner) {
        if (!inner.isEmpty() && (inner.charAt(0) == 'v' || inner.charAt(0) == 'V')) {
            int dot = inner.indexOf('.');
            if (dot < 2 || dot == inner.length() - 1) {
                return false;
            }
            for (int i = 1; i < dot; i++) {
                if (!hex(inner.charAt(i))) {
                    return false;
                }
            }
            for (int i = dot + 1; i < inner.length(); i++) {
                char c = inner.charAt(i);
                if (!unreserved(c) && !subDelim(c) && c != ':') {
                    return false;
                }
            }
            return true;
        }
        return inner.indexOf('%') < 0 && NetUtil.isValidIpV6Address(inner);
    }

    private static boolean unreserved(char c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                || c == '-' || c == '.' || c == '_' || c == '~';
    }

    private static boolean subDelim(char c) {
        return "!$&'()*+,;=".indexOf(c) >= 0;
    }

    private static boolean hex(char c) {
        return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F';
    }
}
