package io.parley.type.video;

import com.google.protobuf.Any;
import io.parley.core.testing.ComponentConfigs;
import io.parley.type.support.MediaBodies;
import io.parley.type.support.testing.ComponentLifecycle;
import io.parley.type.video.proto.Video;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VideoComponentTest {

    @Test
    void theShippedCfgListsEveryKeyWithItsDefault() throws Exception {
        ComponentConfigs.assertShippedCfg(VideoComponent.Config.class, Path.of("src/main/conf/parley.type.video.cfg"));
    }

    @Test
    void theSharedBlobKeyHasTheDefaultOfTheFileTypesCfg() throws Exception {
        java.util.Properties cfg = new java.util.Properties();
        try (var in = java.nio.file.Files.newBufferedReader(Path.of("../file/src/main/conf/parley.blob.cfg"))) {
            cfg.load(in);
        }
        ComponentConfigs.defaults(VideoComponent.BlobConfig.class).forEach((key, value) ->
                assertEquals(cfg.getProperty(key), value, key));
    }

    @Test
    void settingsAreCheckedAndNameTheKey() {
        VideoSettings defaults = settings(Map.of(), Map.of());
        assertEquals(104_857_600L, defaults.maxBytes());
        assertEquals(Duration.ofMinutes(5), defaults.maxDuration());
        assertEquals(3840L * 2160, defaults.maxPixels());
        assertEquals(2_097_152L, defaults.posterMaxBytes());
        for (Map.Entry<String, Object> bad : Map.<String, Object>of("max.bytes", 0L, "max.duration.seconds", 0L,
                "max.pixels", 10L, "poster.max.bytes", 10L).entrySet()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> settings(Map.of(bad.getKey(), bad.getValue()), Map.of()));
            assertTrue(e.getMessage().contains(bad.getKey()), e.getMessage());
        }
    }

    @Test
    void theFileTypeFindsClipAndPosterByTheFieldNumbersVideoProtoFixes() throws Exception {
        assertEquals(MediaBodies.KEY_FIELD, Video.getDescriptor().findFieldByName("key").getNumber());
        assertEquals(MediaBodies.POSTER_KEY_FIELD, Video.getDescriptor().findFieldByName("poster_key").getNumber());
        assertEquals(MediaBodies.VIDEO_TYPE_URL, "type.googleapis.com/" + Video.getDescriptor().getFullName());
        Video v = Video.newBuilder().setKey("f/a/20261206/clip").setWidth(640).setPosterKey("f/a/20261206/poster")
                .setPosterSha256("x").build();
        assertEquals(new MediaBodies.Keys("f/a/20261206/clip", "f/a/20261206/poster"),
                MediaBodies.keysOf("video", Any.pack(v)).orElseThrow());
        assertThrows(com.google.protobuf.InvalidProtocolBufferException.class,
                () -> MediaBodies.keysOf("voice", Any.pack(v)));
    }

    @Test
    void theComponentRegistersTheTypeAndStopsItsWorkersOnDeactivation(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        ComponentLifecycle.check("video", "parley-video", dir,
                context -> new VideoComponent(context, ComponentConfigs.of(VideoComponent.Config.class, Map.of()),
                        ComponentConfigs.of(VideoComponent.BlobConfig.class, Map.of())),
                VideoComponent::bindBlob, VideoComponent::unbindBlob, VideoComponent::deactivate);
    }

    static VideoSettings settings(Map<String, ?> own, Map<String, ?> blob) {
        return VideoComponent.settingsOf(ComponentConfigs.of(VideoComponent.Config.class, own),
                ComponentConfigs.of(VideoComponent.BlobConfig.class, blob));
    }
}
