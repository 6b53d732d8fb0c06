package io.parley.config.guard.internal;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConfigGuardTest {

    /** The shape bnd writes for a component whose activate method takes a configuration annotation. */
    private static final String COMPONENT = """
            <?xml version="1.0" encoding="UTF-8"?>
            <scr:component xmlns:scr="http://www.osgi.org/xmlns/scr/v1.4.0" name="parley.transport.tcp"
                configuration-policy="optional" configuration-pid="parley.transport.tcp">
              <property name="host" type="String" value="0.0.0.0"/>
              <property name="port" type="Integer" value="7700"/>
              <property name="idle.timeout.seconds" type="Integer" value="90"/>
              <property name="ratio" type="Double" value="0.5"/>
              <property name="tcp.nodelay" type="Boolean" value="true"/>
              <property name="max.bytes" type="Long" value="10"/>
              <implementation class="x.Y"/>
            </scr:component>
            """;
    private static final String METATYPE = """
            <?xml version="1.0" encoding="UTF-8"?>
            <metatype:MetaData xmlns:metatype="http://www.osgi.org/xmlns/metatype/v1.2.0">
              <OCD id="x.TcpConfig" name="TCP">
                <AD id="host" type="String"/>
                <AD id="port" type="Integer"/>
                <AD id="idle.timeout.seconds" type="Integer" min="0" max="3600"/>
                <AD id="ratio" type="Double" min="0" max="1"/>
              </OCD>
              <OCD id="x.Other" name="unrelated">
                <AD id="elsewhere" type="Integer" min="5"/>
              </OCD>
            </metatype:MetaData>
            """;

    private static Map<String, Rule> tcpRules() {
        return Descriptions.rules(List.of(COMPONENT.getBytes(StandardCharsets.UTF_8)),
                List.of(METATYPE.getBytes(StandardCharsets.UTF_8))).get("parley.transport.tcp");
    }

    @Test
    void rulesComeFromTheComponentTypesAndTheMatchingMetatype() {
        Map<String, Rule> rules = tcpRules();
        assertEquals("an integer from 0 to 65535", rules.get("port").allowed(), "the port convention");
        assertEquals("an integer from 0 to 3600", rules.get("idle.timeout.seconds").allowed());
        assertEquals("a number from 0 to 1", rules.get("ratio").allowed());
        assertEquals("true or false", rules.get("tcp.nodelay").allowed());
        assertEquals("an integer from -9223372036854775808 to 9223372036854775807", rules.get("max.bytes").allowed());
        assertEquals(null, rules.get("elsewhere"), "an OCD with keys the component lacks is another component's");
    }

    @Test
    void valuesAreCheckedAgainstTypeAndRange() {
        Map<String, Rule> rules = tcpRules();
        assertNull(rules.get("port").problem(" 7700 "));
        assertEquals("is not a number", rules.get("port").problem("77OO"));
        assertEquals("is out of range", rules.get("port").problem("70000"));
        assertEquals("is out of range", rules.get("idle.timeout.seconds").problem("-5"));
        assertEquals("is not a whole number", rules.get("idle.timeout.seconds").problem("1.5"));
        assertEquals("is out of range", rules.get("max.bytes").problem("9223372036854775808"));
        assertEquals("is not true or false", rules.get("tcp.nodelay").problem("yes"));
        assertNull(rules.get("tcp.nodelay").problem("FALSE"));
        assertNull(rules.get("host").problem("anything"));
        assertEquals("is out of range", rules.get("port").problem(new String[] {"1", "-1"}));
        assertNull(rules.get("port").problem(7700));
    }

    @Test
    void aBadValueAtTheFirstDeliveryIsAnOpenProblemAndStaysForTheComponentToRefuse() {
        List<String> warnings = new ArrayList<>();
        AtomicInteger changes = new AtomicInteger();
        ConfigGuard guard = new ConfigGuard("/srv/parley", warnings::add, changes::incrementAndGet);
        Hashtable<String, Object> props = cfg("77OO", "90");
        guard.check("parley.transport.tcp", tcpRules(), props);
        assertEquals("77OO", props.get("port"));
        assertEquals(List.of("parley.transport.tcp: conf/parley.transport.tcp.cfg: port = 77OO is not a number "
                + "(allowed: an integer from 0 to 65535)"), guard.openProblems());
        assertEquals(1, warnings.size());
        assertEquals(1, changes.get());

        // asked again for the same configuration (one call per component): nothing new is reported
        guard.check("parley.transport.tcp", tcpRules(), cfg("77OO", "90"));
        assertEquals(1, warnings.size());
        assertEquals(1, changes.get());

        // fixed: no problem left
        guard.check("parley.transport.tcp", tcpRules(), cfg("7700", "90"));
        assertTrue(guard.openProblems().isEmpty());
        assertEquals(2, changes.get());
    }

    @Test
    void aBadValueEditedLaterKeepsThePreviousValue() {
        List<String> warnings = new ArrayList<>();
        ConfigGuard guard = new ConfigGuard("/srv/parley", warnings::add, () -> { });
        guard.check("parley.transport.tcp", tcpRules(), cfg("7700", "90"));
        assertTrue(warnings.isEmpty());

        Hashtable<String, Object> edited = cfg("7711", "-5");
        guard.check("parley.transport.tcp", tcpRules(), edited);
        assertEquals("7711", edited.get("port"), "the good part of the edit applies");
        assertEquals("90", edited.get("idle.timeout.seconds"), "the bad value is replaced by the one in force");
        assertEquals(List.of("conf/parley.transport.tcp.cfg: idle.timeout.seconds = -5 is out of range "
                + "(allowed: an integer from 0 to 3600); keeping idle.timeout.seconds = 90"), warnings);
        assertTrue(guard.openProblems().isEmpty(), "nothing blocks: the old value is in force");

        // the next edit still falls back to the last value in force
        Hashtable<String, Object> again = cfg("7712", "abc");
        guard.check("parley.transport.tcp", tcpRules(), again);
        assertEquals("90", again.get("idle.timeout.seconds"));
        assertEquals("7712", again.get("port"));
    }

    @Test
    void aConfigurationTheComponentFailsWithIsPinnedToTheConfirmedOne() {
        List<String> warnings = new ArrayList<>();
        ConfigGuard guard = new ConfigGuard("/srv/parley", warnings::add, () -> { });
        assertNull(guard.pin("parley.transport.tcp", "x"), "nothing to fall back on before any check");
        guard.check("parley.transport.tcp", tcpRules(), cfg("7700", "90"));
        guard.confirm("parley.transport.tcp");

        Hashtable<String, Object> failing = cfg("7700", "90");
        failing.put("tls.enabled", "true");   // fits its type; the component refuses it (no certificate)
        guard.check("parley.transport.tcp", Map.of(), failing);
        assertEquals("conf/parley.transport.tcp.cfg: refused: parley.transport.tcp: tls.cert is required; keeping the "
                + "previous configuration", guard.pin("parley.transport.tcp", "parley.transport.tcp: tls.cert is required"));
        assertNull(guard.pin("parley.transport.tcp", "again"), "pinned once");

        Hashtable<String, Object> again = cfg("7700", "90");
        again.put("tls.enabled", "true");
        guard.check("parley.transport.tcp", Map.of(), again);
        assertEquals(null, again.get("tls.enabled"), "the confirmed configuration is handed out");
        assertEquals("7700", again.get("port"));

        Hashtable<String, Object> fixed = cfg("7701", "90");
        guard.check("parley.transport.tcp", Map.of(), fixed);
        assertEquals("7701", fixed.get("port"), "a new edit applies");
    }

    @Test
    void aFailedEditBeforeTheLastOneWasConfirmedFallsBackToWhatWasHandedOutBefore() {
        // on a busy machine an edit can come before the check that would have confirmed the values of start-up
        ConfigGuard guard = new ConfigGuard("/srv/parley", line -> { }, () -> { });
        guard.check("parley.transport.tcp", tcpRules(), cfg("7700", "90"));
        Hashtable<String, Object> failing = cfg("7700", "90");
        failing.put("tls.enabled", "true");
        guard.check("parley.transport.tcp", Map.of(), failing);
        assertEquals("conf/parley.transport.tcp.cfg: refused: no certificate; keeping the previous configuration",
                guard.pin("parley.transport.tcp", "no certificate"));
        Hashtable<String, Object> again = cfg("7700", "90");
        again.put("tls.enabled", "true");
        guard.check("parley.transport.tcp", Map.of(), again);
        assertEquals(null, again.get("tls.enabled"), "the values handed out before the failed edit come back");
    }

    @Test
    void aDeletedConfigurationStartsOver() {
        ConfigGuard guard = new ConfigGuard(null, w -> { }, () -> { });
        guard.check("parley.transport.tcp", tcpRules(), cfg("7700", "90"));
        guard.deleted("parley.transport.tcp");
        Hashtable<String, Object> props = cfg("x", "90");
        guard.check("parley.transport.tcp", tcpRules(), props);
        assertEquals("x", props.get("port"));
        assertEquals(1, guard.openProblems().size());
        assertTrue(guard.openProblems().get(0).contains("/srv/parley/conf/parley.transport.tcp.cfg: port = x"),
                guard.openProblems().get(0));
    }

    private static Hashtable<String, Object> cfg(String port, String idle) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put("service.pid", "parley.transport.tcp");
        props.put(ConfigGuard.FILENAME, "file:/srv/parley/conf/parley.transport.tcp.cfg");
        props.put("port", port);
        props.put("idle.timeout.seconds", idle);
        props.put("host", "127.0.0.1");
        return props;
    }
}
