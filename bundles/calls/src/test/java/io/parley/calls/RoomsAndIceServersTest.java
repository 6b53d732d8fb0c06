package io.parley.calls;

import io.parley.calls.proto.IceServer;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Base64;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Room tokens (signed, bound to room, user, device and expiry) and the ICE servers with coturn's TURN credentials. */
class RoomsAndIceServersTest {
    final Rooms rooms = new Rooms();

    static void refused(String text, Runnable action) {
        ParleyException e = assertThrows(ParleyException.class, action::run);
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, e.code());
        assertEquals(text, e.getMessage());
    }

    @Test
    void aTokenIsGoodForItsRoomUserAndDeviceUntilItExpires() {
        String token = rooms.token("r-1", "alice", "laptop", 10_000);
        rooms.verify(token, "r-1", "alice", "laptop", 9_999);
        refused("the room token expired", () -> rooms.verify(token, "r-1", "alice", "laptop", 10_000));
        refused("invalid room token", () -> rooms.verify(token, "r-2", "alice", "laptop", 0));
        refused("invalid room token", () -> rooms.verify(token, "r-1", "bob", "laptop", 0));
        refused("invalid room token", () -> rooms.verify(token, "r-1", "alice", "phone", 0));
    }

    @Test
    void forgedMalformedAndForeignTokensAreRefused() {
        String token = rooms.token("r-1", "alice", "laptop", 10_000);
        String claims = token.substring(0, token.indexOf('.'));
        String mac = token.substring(token.indexOf('.') + 1);
        // the same claims with a later expiry, keeping the signature: forged
        String later = Base64.getUrlEncoder().withoutPadding().encodeToString("r-1\nalice\nlaptop\n99999".getBytes());
        refused("invalid room token", () -> rooms.verify(later + "." + mac, "r-1", "alice", "laptop", 0));
        refused("invalid room token", () -> rooms.verify(claims + ".AAAA", "r-1", "alice", "laptop", 0));
        refused("invalid room token", () -> rooms.verify("", "r-1", "alice", "laptop", 0));
        refused("invalid room token", () -> rooms.verify(null, "r-1", "alice", "laptop", 0));
        refused("invalid room token", () -> rooms.verify("no-dot", "r-1", "alice", "laptop", 0));
        refused("invalid room token", () -> rooms.verify("%%%.%%%", "r-1", "alice", "laptop", 0));
        // another registry (another node, or this bundle before a restart) signs with another secret
        refused("invalid room token", () -> new Rooms().verify(token, "r-1", "alice", "laptop", 0));
    }

    @Test
    void idsAreFreshAndPrefixed() {
        String a = rooms.newId("c-");
        String b = rooms.newId("c-");
        assertTrue(a.startsWith("c-") && a.length() == 18, a);
        assertNotEquals(a, b);
    }

    @Test
    void theTurnCredentialFollowsCoturnsUseAuthSecretConvention() {
        // computed independently:
        //   printf '1700000000:alice' | openssl dgst -sha1 -hmac north -binary | base64
        //   → Cd/49soE35ICqcJF/bCTn8Z4OyE=
        assertEquals("Cd/49soE35ICqcJF/bCTn8Z4OyE=", IceServers.turnCredential("north", "1700000000:alice"));
        assertEquals("1700000000:alice", IceServers.turnUsername(1_700_000_000L, "alice"));
    }

    @Test
    void iceServersListStunAndTurnAsConfigured() {
        CallSettings none = CallSettings.defaults();
        assertEquals(List.of(), IceServers.forUser(none, "alice", 0), "nothing configured: direct connections only");

        CallSettings s = none.withTurn(List.of("stun:stun.example.com:3478"),
                List.of("turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"), "north");
        long now = 1_699_996_400_123L; // the credential expires turn.ttl (1 h) later, in whole seconds
        List<IceServer> servers = IceServers.forUser(s, "alice", now);
        assertEquals(2, servers.size());
        assertEquals(List.of("stun:stun.example.com:3478"), servers.get(0).getUrlsList());
        assertEquals("", servers.get(0).getUsername());
        IceServer turn = servers.get(1);
        assertEquals(List.of("turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"),
                turn.getUrlsList());
        assertEquals("1700000000:alice", turn.getUsername());
        assertEquals("Cd/49soE35ICqcJF/bCTn8Z4OyE=", turn.getCredential());
        assertEquals(1_700_000_000_000L, IceServers.turnExpiry(s, now));
    }

    @Test
    void settingsAreValidated() {
        CallSettings d = CallSettings.defaults();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> d.withRingTimeout(Duration.ZERO));
        assertTrue(e.getMessage().startsWith("ring.timeout.seconds must be between 1 and 600"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> d.withTurn(List.of("http://x"), List.of(), ""));
        assertThrows(IllegalArgumentException.class, () -> d.withTurn(List.of(), List.of("stun:x"), "s"));
        assertThrows(IllegalArgumentException.class, () -> d.withTurn(List.of(), List.of(), "secret"),
                "a secret without TURN URLs is a mistake");
        assertEquals(List.of("stun:a", "stun:b"), CallSettings.urls(" stun:a, ,stun:b "));
    }
}
