package io.parley.type.file;

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
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The OSGi boundary of the file types: configured from {@code conf/parley.blob.cfg} (PID {@code parley.blob}, shared
 * with the HTTP transport's blob endpoints), bound to the blob store {@code blob.target} names (dynamically: without
 * one, sends and commands are refused as retryable {@code UNAVAILABLE}), and registering the processors of
 * {@code file} and {@code image} and the handlers of {@code file.upload} and {@code file.download}.
 *
 * <p>Owns two worker threads ({@code parley-file-N}: blob I/O and image decoding, at most {@value #QUEUE} tasks
 * waiting) and the sweep thread ({@code parley-file-sweep}); all end on deactivation, and the calls still waiting
 * then fail as retryable {@code UNAVAILABLE}. A configuration change applies to the next call without unregistering
 * anything.
 */
@Component(service = {}, configurationPid = FileComponent.PID, immediate = true)
@Designate(ocd = FileComponent.Config.class)
public final class FileComponent {

    static final String PID = "parley.blob";
    private static final Logger LOG = LoggerFactory.getLogger(FileComponent.class);
    private static final int QUEUE = 1000;

    @ObjectClassDefinition(id = PID, name = "Parley files and blobs")
    public @interface Config {
        @AttributeDefinition(description = "The blob store: an LDAP filter on parley.blob.store.name (fs, s3)")
        String blob_target() default "(parley.blob.store.name=fs)";

        @AttributeDefinition(description = "Signs upload and download tickets (at least 32 bytes; bin/parley "
                + "generates one on first start). Every node of a cluster needs the same one")
        String ticket_secret() default "";

        @AttributeDefinition(description = "The base URL clients reach the HTTP transport's /blobs/ endpoints at")
        String public_url() default "http://127.0.0.1:7702";

        @AttributeDefinition(description = "The largest file a ticket is issued for, in bytes")
        long upload_max_bytes() default 104_857_600L;

        @AttributeDefinition(description = "The largest upload chunk (one PATCH), in bytes")
        int upload_chunk_max_bytes() default 8_388_608;

        @AttributeDefinition(description = "How long an upload ticket is honoured, in seconds")
        long upload_ticket_seconds() default 3600;

        @AttributeDefinition(description = "How long a download URL works, in seconds")
        long download_ticket_seconds() default 300;

        @AttributeDefinition(description = "What one user may store, in bytes (0: no limit)")
        long quota_bytes() default 1_073_741_824L;

        @AttributeDefinition(description = "Uploads not sent in a message within this many hours are deleted")
        long orphan_hours() default 24;

        @AttributeDefinition(description = "How often uploads never sent are looked for, in minutes")
        long sweep_minutes() default 60;

        @AttributeDefinition(description = "The largest image accepted, in pixels (width x height, from its header)")
        long image_max_pixels() default 40_000_000L;

        @AttributeDefinition(description = "The longer side of a thumbnail, in pixels")
        int thumbnail_max_side() default 320;

        @AttributeDefinition(description = "(HTTP transport) where partial uploads are kept until complete")
        String upload_dir() default "data/uploads";

        @AttributeDefinition(description = "(HTTP transport) upload chunks received or written at once, across all "
                + "connections; more are refused as retryable 503 (one user's take at most a quarter of them)")
        int upload_max_concurrent() default 16;
    }

    private final AtomicReference<FileSettings> settings = new AtomicReference<>();
    private final BlobStoreBinding blobs = new BlobStoreBinding(LOG, "Files",
            "file and image sends and file commands are refused (retryable) until one runs");
    private final ThreadPoolExecutor io;
    private final ScheduledExecutorService sweeper;
    private final Files files;
    private final Registrations registrations;

    @Activate
    public FileComponent(BundleContext context, Config config) {
        settings.set(settingsOf(config));
        io = BlobWorkers.newPool("parley-file", 2, QUEUE);
        files = new Files(settings::get, blobs, io, Clock.systemUTC());
        sweeper = BlobWorkers.newScheduler("parley-file-sweep");
        long every = settings.get().sweepInterval().toMinutes();
        sweeper.scheduleWithFixedDelay(this::sweep, Math.min(every, 5), every, TimeUnit.MINUTES);
        registrations = register(context);
    }

    @Modified
    void modified(Config config) {
        settings.set(settingsOf(config));
    }

    @Deactivate
    void deactivate() {
        registrations.unregisterAll();
        BlobWorkers.stop(io, sweeper, "the file types are stopping");
    }

    @Reference(name = "blob", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindBlob(BlobStore store) {
        blobs.bind(store);
    }

    void unbindBlob(BlobStore store) {
        blobs.unbind(store);
    }

    private void sweep() {
        try {
            files.sweep();
        } catch (Exception e) {
            LOG.warn("The sweep of uploads never sent failed; it runs again in {} minutes",
                    settings.get().sweepInterval().toMinutes(), e);
        }
    }

    private Registrations register(BundleContext context) {
        FileCommands commands = new FileCommands(files);
        Registrations r = new Registrations(context);
        for (String type : new String[] {FileTypes.FILE, FileTypes.IMAGE}) {
            r.add(MessageProcessor.class, new FileProcessor(files, type), MessageProcessor.TYPE, type);
        }
        r.add(CommandHandler.class, commands.uploadHandler(), CommandHandler.TYPE, FileTypes.UPLOAD);
        r.add(CommandHandler.class, commands.downloadHandler(), CommandHandler.TYPE, FileTypes.DOWNLOAD);
        return r;
    }

    static FileSettings settingsOf(Config c) {
        return new FileSettings(URI.create(c.public_url().trim()), BlobLinks.secretOf(c.ticket_secret()),
                c.upload_max_bytes(), c.upload_chunk_max_bytes(), Duration.ofSeconds(c.upload_ticket_seconds()),
                Duration.ofSeconds(c.download_ticket_seconds()), c.quota_bytes(), Duration.ofHours(c.orphan_hours()),
                Duration.ofMinutes(c.sweep_minutes()), c.image_max_pixels(), c.thumbnail_max_side());
    }
}
