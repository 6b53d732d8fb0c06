package io.parley.core.api;

import io.parley.core.proto.ErrorCode;

import java.util.List;

/**
 * Identifier rules shared by every bundle.
 *
 * <p>User and device ids: 1..64 characters from {@code [A-Za-z0-9._@-]}. A 1:1 (direct) conversation between
 * users {@code a} and {@code b} has the id {@code d:<min(a,b)>:<max(a,b)>}, so both sides compute the same id; a
 * group's conversation id is {@code g:<group id>}, group ids following the user id rules.
 */
public final class Ids {
    public static final String DIRECT_PREFIX = "d:";
    public static final String GROUP_PREFIX = "g:";
    public static final int MAX_ID_LENGTH = 64;
    /**
     * The device id of the HTTP API's sessions ({@code sender_device} of the messages it sends). Reserved: a client's
     * hello may not use it, so a message from this device is known to come through the API.
     *
     * @since 1.2
     */
    public static final String HTTP_API_DEVICE = "http-api";

    private Ids() {
    }

    public static boolean isValidId(String id) {
        if (id == null || id.isEmpty() || id.length() > MAX_ID_LENGTH) {
            return false;
        }
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '@' || c == '-';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /** @return {@code userId}; @throws ParleyException INVALID_REQUEST if it breaks the rules */
    public static String checkUserId(String userId) {
        if (!isValidId(userId)) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "invalid user id: " + abbreviate(userId));
        }
        return userId;
    }

    public static String checkDeviceId(String deviceId) {
        if (!isValidId(deviceId)) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "invalid device id: " + abbreviate(deviceId));
        }
        return deviceId;
    }

    /** The direct conversation id of two (valid) users; symmetric. */
    public static String direct(String a, String b) {
        checkUserId(a);
        checkUserId(b);
        return a.compareTo(b) <= 0 ? DIRECT_PREFIX + a + ':' + b : DIRECT_PREFIX + b + ':' + a;
    }

    /** @return the two members of a direct conversation id, or an empty list if it is not a valid one */
    public static List<String> directMembers(String conversation) {
        if (conversation == null || !conversation.startsWith(DIRECT_PREFIX)) {
            return List.of();
        }
        int colon = conversation.indexOf(':', DIRECT_PREFIX.length());
        if (colon < 0) {
            return List.of();
        }
        String a = conversation.substring(DIRECT_PREFIX.length(), colon);
        String b = conversation.substring(colon + 1);
        if (!isValidId(a) || !isValidId(b) || a.compareTo(b) > 0) {
            return List.of();
        }
        return a.equals(b) ? List.of(a) : List.of(a, b);
    }

    /** The conversation id of a group. */
    public static String group(String groupId) {
        if (!isValidId(groupId)) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "invalid group id: " + abbreviate(groupId));
        }
        return GROUP_PREFIX + groupId;
    }

    /** @return the group id of a group conversation id, or null if it is not one */
    public static String groupIdOf(String conversation) {
        if (conversation == null || !conversation.startsWith(GROUP_PREFIX)) {
            return null;
        }
        String id = conversation.substring(GROUP_PREFIX.length());
        return isValidId(id) ? id : null;
    }

    static String abbreviate(String s) {
        if (s == null) {
            return "<none>";
        }
        return s.length() <= 80 ? '"' + s + '"' : '"' + s.substring(0, 80) + "…\"";
    }
}
