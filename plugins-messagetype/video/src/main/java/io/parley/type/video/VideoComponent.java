package io.parley.type.video;

import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.type.support.BlobStoreBinding;
import io.parley.type.support.BlobWorkers;
import io.parley.type.support.Registrations;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The OSGi boundary of the video type: configured from its own PID {@value #PID} ({@link Config},
 * {@code conf/parley.type.video.cfg}) merged with the shared PID {@value #BLOB_PID} ({@link BlobConfig}: the
 * {@code orphan.hours} of {@code conf/parley.blob.cfg}, whose {@code blob.target} also selects the store bound here),
 * bound to that blob store dynamically (without one, sends are refused as retryable {@code UNAVAILABLE}), and
 * registering the processor of {@code video}. Uploads and downloads are the file type's commands. (Two PIDs rule out
 * a metatype {@code @Designate}; {@link Config} is the OCD of {@value #PID}.)
 *
 * <p>Owns two worker threads ({@code parley-video-N}: blob I/O, container and poster header parsing, at most
 * {@value #QUEUE} tasks waiting); they end on deactivation, and the sends still waiting then fail as retryable
 * {@code UNAVAILABLE}. A configuration change applies to the next send without unregistering anything.
 */
@Component(service = {}, configurationPid = {VideoComponent.PID, VideoComponent.BLOB_PID}, immediate = true)
public final class VideoComponent {

    static final String PID = "parley.type.video";
    static final String BLOB_PID = "parley.blob";
    private static final Logger LOG = LoggerFactory.getLogger(VideoComponent.class);
    private static final int QUEUE = 200;

    @ObjectClassDefinition(id = PID, name = "Parley video messages")
    public @interface Config {
        @AttributeDefinition(description = "The largest video clip accepted, in bytes", min = "1")
        long max_bytes() default 104_857_600L;

        @AttributeDefinition(description = "The longest video clip accepted, in seconds (read from its container)",
                min = "1", max = "86400")
        long max_duration_seconds() default 300;

        @AttributeDefinition(description = "The largest frame accepted, in pixels (width x height, read from the "
                + "container; posters too)", min = "4096")
        long max_pixels() default 8_294_400L;

        @AttributeDefinition(description = "The largest poster image accepted, in bytes", min = "1024",
                max = "67108864")
        long poster_max_bytes() default 2_097_152L;
    }

    /** The key read from PID {@value #BLOB_PID}; documented (with this default) in the file type's cfg. */
    public @interface BlobConfig {
        long orphan_hours() default 24;
    }

    private final AtomicReference<VideoSettings> settings = new AtomicReference<>();
    private final BlobStoreBinding blobs = new BlobStoreBinding(LOG, "Video clips and posters",
            "video sends are refused (retryable) until one runs");
    private final ThreadPoolExecutor io;
    private final Registrations registrations;

    @Activate
    public VideoComponent(BundleContext context, Config config, BlobConfig blob) {
        settings.set(settingsOf(config, blob));
        io = BlobWorkers.newPool("parley-video", 2, QUEUE);
        registrations = new Registrations(context);
        registrations.add(MessageProcessor.class, new VideoProcessor(settings::get, blobs, io, Clock.systemUTC()),
                MessageProcessor.TYPE, VideoProcessor.TYPE);
    }

    @Modified
    void modified(Config config, BlobConfig blob) {
        settings.set(settingsOf(config, blob));
    }

    @Deactivate
    void deactivate() {
        registrations.unregisterAll();
        BlobWorkers.stop(io, "the video type is stopping");
    }

    @Reference(name = "blob", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindBlob(BlobStore store) {
        blobs.bind(store);
    }

    void unbindBlob(BlobStore store) {
        blobs.unbind(store);
    }

    static VideoSettings settingsOf(Config c, BlobConfig b) {
        return new VideoSettings(c.max_bytes(), Duration.ofSeconds(c.max_duration_seconds()), c.max_pixels(),
                c.poster_max_bytes(), Duration.ofHours(b.orphan_hours()));
    }
}
