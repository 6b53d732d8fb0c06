package io.parley.type.sticker;

import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.type.support.BlobLinks;
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

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The OSGi boundary of the sticker type: configured from its own PID {@value #PID} ({@link Config},
 * {@code conf/parley.type.sticker.cfg}) merged with the shared PID {@value #BLOB_PID} ({@link BlobConfig}: the
 * ticket secret and public URL of {@code conf/parley.blob.cfg}, whose {@code blob.target} also selects the store
 * bound here), bound to that blob store dynamically (without one, the commands are refused as retryable
 * {@code UNAVAILABLE}; sends go on from the packs in memory), and registering the processor of {@code sticker} and
 * the handlers of {@code sticker.list}, {@code sticker.pack.put} and {@code sticker.pack.withdraw}. (Two PIDs rule
 * out a metatype {@code @Designate}; {@link Config} is the OCD of {@value #PID}.)
 *
 * <p>Owns two worker threads ({@code parley-sticker-N}: the commands' blob I/O and image decoding, at most
 * {@value #QUEUE} tasks waiting) and the refresh thread ({@code parley-sticker-refresh}: reads the packs at
 * activation, when a store is bound and every {@code refresh.seconds}); all end on deactivation. A configuration
 * change applies to the next call without unregistering anything.
 */
@Component(service = {}, configurationPid = {StickerComponent.PID, StickerComponent.BLOB_PID}, immediate = true)
public final class StickerComponent {

    static final String PID = "parley.type.sticker";
    static final String BLOB_PID = "parley.blob";
    private static final Logger LOG = LoggerFactory.getLogger(StickerComponent.class);
    private static final int QUEUE = 100;
    private static final long RETRY_SECONDS = 5;

    @ObjectClassDefinition(id = PID, name = "Parley sticker packs")
    public @interface Config {
        @AttributeDefinition(description = "The largest sticker image accepted, in bytes")
        int image_max_bytes() default 524_288;

        @AttributeDefinition(description = "The largest width and height of a sticker image, in pixels (read from "
                + "its header before decoding)")
        int image_max_side() default 1024;

        @AttributeDefinition(description = "How long the image URLs of a sticker.list answer work, in seconds")
        long catalog_url_seconds() default 86_400;

        @AttributeDefinition(description = "How often the packs are read again from the blob store (changes made "
                + "on other nodes), in seconds")
        long refresh_seconds() default 60;
    }

    /** The keys read from PID {@value #BLOB_PID}; documented (with these defaults) in the file type's cfg. */
    public @interface BlobConfig {
        String ticket_secret() default "";

        String public_url() default "http://127.0.0.1:7702";
    }

    private final AtomicReference<StickerSettings> settings = new AtomicReference<>();
    private final BlobStoreBinding blobs = new BlobStoreBinding(LOG, "Sticker packs",
            "sticker commands are refused (retryable) until one runs; sends go on from the packs in memory");
    private final ThreadPoolExecutor io;
    private final ScheduledExecutorService refresher;
    private final StickerPacks packs;
    private final Registrations registrations;
    /** The periodic refresh; replaced when refresh.seconds changes. Guarded by {@code this}. */
    private ScheduledFuture<?> periodic;

    @Activate
    public StickerComponent(BundleContext context, Config config, BlobConfig blob) {
        settings.set(settingsOf(config, blob));
        io = BlobWorkers.newPool("parley-sticker", 2, QUEUE);
        packs = new StickerPacks(settings::get, blobs, io, Clock.systemUTC());
        refresher = BlobWorkers.newScheduler("parley-sticker-refresh");
        schedule(settings.get().refreshInterval());
        registrations = register(context);
    }

    @Modified
    void modified(Config config, BlobConfig blob) {
        StickerSettings next = settingsOf(config, blob);
        StickerSettings before = settings.getAndSet(next);
        if (!before.refreshInterval().equals(next.refreshInterval())) {
            schedule(next.refreshInterval());
        }
    }

    @Deactivate
    void deactivate() {
        registrations.unregisterAll();
        BlobWorkers.stop(io, refresher, "the sticker type is stopping");
    }

    @Reference(name = "blob", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindBlob(BlobStore store) {
        blobs.bind(store);
        refreshSoon(0);
    }

    void unbindBlob(BlobStore store) {
        blobs.unbind(store);
    }

    private synchronized void schedule(Duration every) {
        if (periodic != null) {
            periodic.cancel(false);
        }
        long seconds = every.toSeconds();
        periodic = refresher.scheduleWithFixedDelay(this::refresh, 0, seconds, TimeUnit.SECONDS);
    }

    private void refreshSoon(long delaySeconds) {
        try {
            refresher.schedule(this::refresh, delaySeconds, TimeUnit.SECONDS);
        } catch (RejectedExecutionException deactivated) {
            // shutting down
        }
    }

    /** Runs on the refresh thread; never throws (a periodic task that throws is never run again). */
    private void refresh() {
        try {
            packs.refresh();
        } catch (Exception e) {
            if (refresher.isShutdown()) {
                return; // deactivated while reading
            }
            boolean loaded = packs.snapshot().loaded();
            LOG.warn("Reading the sticker packs from the blob store failed; trying again in {} seconds",
                    loaded ? settings.get().refreshInterval().toSeconds() : RETRY_SECONDS, e);
            if (!loaded) {
                refreshSoon(RETRY_SECONDS);
            }
        }
    }

    private Registrations register(BundleContext context) {
        StickerCommands commands = new StickerCommands(packs);
        Registrations r = new Registrations(context);
        r.add(MessageProcessor.class, new StickerProcessor(packs), MessageProcessor.TYPE, StickerTypes.STICKER);
        r.add(CommandHandler.class, commands.listHandler(), CommandHandler.TYPE, StickerTypes.LIST);
        r.add(CommandHandler.class, commands.putHandler(), CommandHandler.TYPE, StickerTypes.PUT);
        r.add(CommandHandler.class, commands.withdrawHandler(), CommandHandler.TYPE, StickerTypes.WITHDRAW);
        return r;
    }

    static StickerSettings settingsOf(Config c, BlobConfig b) {
        return new StickerSettings(URI.create(b.public_url().trim()), BlobLinks.secretOf(b.ticket_secret()),
                c.image_max_bytes(), c.image_max_side(), Duration.ofSeconds(c.catalog_url_seconds()),
                Duration.ofSeconds(c.refresh_seconds()));
    }
}
