package io.parley.type.voice;

import io.parley.core.testing.ComponentConfigs;
import io.parley.type.support.MediaBodies;
import io.parley.type.support.testing.ComponentLifecycle;
import io.parley.type.voice.proto.Voice;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VoiceComponentTest {

    @Test
    void theShippedCfgListsEveryKeyWithItsDefault() throws Exception {
        ComponentConfigs.assertShippedCfg(VoiceComponent.Config.class, Path.of("src/main/conf/parley.type.voice.cfg"));
    }

    @Test
    void theSharedBlobKeyHasTheDefaultOfTheFileTypesCfg() throws Exception {
        java.util.Properties cfg = new java.util.Properties();
        try (var in = java.nio.file.Files.newBufferedReader(Path.of("../file/src/main/conf/parley.blob.cfg"))) {
            cfg.load(in);
        }
        ComponentConfigs.defaults(VoiceComponent.BlobConfig.class).forEach((key, value) ->
                assertEquals(cfg.getProperty(key), value, key));
    }

    @Test
    void settingsAreCheckedAndNameTheKey() {
        VoiceSettings defaults = settings(Map.of(), Map.of());
        assertEquals(10_485_760L, defaults.maxBytes());
        assertEquals(Duration.ofMinutes(5), defaults.maxDuration());
        assertEquals(Duration.ofHours(23), defaults.sendWithin());
        for (Map.Entry<String, Object> bad : Map.<String, Object>of("max.bytes", 0L, "max.duration.seconds", 0L)
                .entrySet()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> settings(Map.of(bad.getKey(), bad.getValue()), Map.of()));
            assertTrue(e.getMessage().contains(bad.getKey()), e.getMessage());
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> settings(Map.of(), Map.of("orphan.hours", 1L)))
                .getMessage().contains("orphan.hours"));
    }

    @Test
    void theFileTypeFindsTheClipsKeyByTheFieldNumberVoiceProtoFixes() throws Exception {
        assertEquals(MediaBodies.KEY_FIELD, Voice.getDescriptor().findFieldByName("key").getNumber());
        assertEquals(MediaBodies.VOICE_TYPE_URL, "type.googleapis.com/" + Voice.getDescriptor().getFullName());
        Voice v = Voice.newBuilder().setKey("f/alice/20261206/abc").setSize(3).setWaveform(
                com.google.protobuf.ByteString.copyFrom(new byte[] {1, 2})).build();
        assertEquals(new MediaBodies.Keys("f/alice/20261206/abc", ""),
                MediaBodies.keysOf("voice", com.google.protobuf.Any.pack(v)).orElseThrow());
    }

    @Test
    void theComponentRegistersTheTypeAndStopsItsWorkersOnDeactivation(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        ComponentLifecycle.check("voice", "parley-voice", dir,
                context -> new VoiceComponent(context, ComponentConfigs.of(VoiceComponent.Config.class, Map.of()),
                        ComponentConfigs.of(VoiceComponent.BlobConfig.class, Map.of())),
                VoiceComponent::bindBlob, VoiceComponent::unbindBlob, VoiceComponent::deactivate);
    }

    static VoiceSettings settings(Map<String, ?> own, Map<String, ?> blob) {
        return VoiceComponent.settingsOf(ComponentConfigs.of(VoiceComponent.Config.class, own),
                ComponentConfigs.of(VoiceComponent.BlobConfig.class, blob));
    }
}
