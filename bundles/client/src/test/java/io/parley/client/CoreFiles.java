package io.parley.client;

import io.parley.blob.fs.FsBlobStore;
import io.parley.command.recall.RecallHandler;
import io.parley.command.recall.RecallRules;
import io.parley.core.internal.InProcessCore;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.testing.ComponentConfigs;
import io.parley.transport.http.internal.BlobSettings;
import io.parley.transport.http.internal.HttpApiServer;
import io.parley.transport.http.internal.HttpApiSettings;
import io.parley.transport.http.internal.TokenIssuer;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import io.parley.type.file.FileComponent;
import io.parley.type.video.VideoComponent;
import io.parley.type.voice.VoiceComponent;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Map;

/**
 * The file and image types of {@link CoreServer}: the file bundle's own DS component ({@link FileComponent}, its
 * configuration PID {@code parley.blob}) on the real filesystem blob store ({@link FsBlobStore} under
 * {@code dir/blobs}), and the HTTP transport's server ({@link HttpApiServer}, plain Java, on loopback) serving the
 * blob endpoints on the same store with the same {@code parley.blob} configuration (partial uploads under
 * {@code dir/uploads}); the voice and video types' components ({@link VoiceComponent}, {@link VideoComponent}, their
 * defaults) on the same store; and the real {@code recall} command (its handler, the default 2-minute window), which has the
 * file type delete what a recalled message pointed at. The component registers its processors and
 * command handlers on a stand-in {@link BundleContext}, which hands them to the engine as the service registry would;
 * its package-private {@code bindBlob} and {@code deactivate} (what SCR calls) are called reflectively.
 */
final class CoreFiles implements AutoCloseable {
    /** The HTTP API's admin token ({@code /v1}; the blob endpoints take tickets instead). */
    static final String ADMIN_TOKEN = "test-admin-token-0123456789";
    /** A ticket secret of the required 32 bytes. */
    static final String TICKET_SECRET = "test-secret-0123456789abcdef-0123456789";

    private final FsBlobStore blobs;
    private final HttpApiServer http;
    private final FileComponent component;
    private final VoiceComponent voice;
    private final VideoComponent video;

    /**
     * @param config {@code parley.blob} keys over the defaults (long keys as {@link Long}, int keys as
     *               {@link Integer}); {@code ticket.secret} defaults to {@link #TICKET_SECRET}
     */
    CoreFiles(InProcessCore core, Path dir, Map<String, Object> config) throws IOException {
        blobs = new FsBlobStore(dir.resolve("blobs"));
        Map<String, Object> c = new HashMap<>(config);
        c.putIfAbsent("ticket.secret", TICKET_SECRET);
        c.putIfAbsent("upload.dir", dir.resolve("uploads").toString());
        http = new HttpApiServer(new HttpApiSettings(ServerSettings.builder().host("127.0.0.1").port(0).ioThreads(1)
                .epoll(EpollMode.OFF).closeTimeout(Duration.ofMillis(500)).build(), ADMIN_TOKEN, 1 << 20, 8192,
                Duration.ofSeconds(5)), TokenIssuer.create("", "parley", Duration.ofHours(1), Duration.ofDays(1)),
                BlobSettings.fromProperties(c));
        http.bindBlobStore(blobs);
        http.bindReceiver(core.receiver());
        try {
            http.start();
            c.putIfAbsent("public.url", baseUrl());
            component = new FileComponent(registry(core), ComponentConfigs.of(FileComponent.Config.class, c));
            voice = new VoiceComponent(registry(core), ComponentConfigs.of(VoiceComponent.Config.class, Map.of()),
                    ComponentConfigs.of(VoiceComponent.BlobConfig.class, Map.of()));
            video = new VideoComponent(registry(core), ComponentConfigs.of(VideoComponent.Config.class, Map.of()),
                    ComponentConfigs.of(VideoComponent.BlobConfig.class, Map.of()));
            core.command(RecallRules.COMMAND_TYPE, new RecallHandler(new RecallRules(Duration.ofMinutes(2))));
        } catch (IOException | RuntimeException e) {
            http.stop();
            blobs.close();
            throw e;
        }
        for (Object each : new Object[] {component, voice, video}) {
            call(each, "bindBlob", BlobStore.class, blobs);
        }
    }

    /** {@code http://127.0.0.1:<port>}: where the blob endpoints listen ({@code /blobs/<key>}). */
    String baseUrl() {
        return "http://127.0.0.1:" + httpPort();
    }

    int httpPort() {
        return http.localAddress().getPort();
    }

    BlobStore blobs() {
        return blobs;
    }

    /** Deactivates the component (its threads end), stops the HTTP server, then closes the blob store. */
    @Override
    public void close() {
        try {
            for (Object c : new Object[] {component, voice, video}) {
                call(c, "deactivate", null, null);
            }
            http.stop();
        } finally {
            try {
                blobs.close();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    private static void call(Object component, String method, Class<?> parameter, Object argument) {
        Class<?> type = component.getClass();
        try {
            Method m = parameter == null ? type.getDeclaredMethod(method) : type.getDeclaredMethod(method, parameter);
            m.setAccessible(true);
            if (parameter == null) {
                m.invoke(component);
            } else {
                m.invoke(component, argument);
            }
        } catch (InvocationTargetException e) {
            throw new IllegalStateException(type.getSimpleName() + "." + method + " failed", e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(type.getSimpleName() + " has no " + method + " as SCR would call it", e);
        }
    }

    /** A bundle context whose registerService adds processors and command handlers to {@code core}. */
    private static BundleContext registry(InProcessCore core) {
        ServiceRegistration<?> registration = (ServiceRegistration<?>) Proxy.newProxyInstance(
                CoreFiles.class.getClassLoader(), new Class<?>[] {ServiceRegistration.class}, (proxy, m, args) -> {
                    if (m.getName().equals("unregister")) {
                        return null;
                    }
                    throw new UnsupportedOperationException(m.getName());
                });
        return (BundleContext) Proxy.newProxyInstance(CoreFiles.class.getClassLoader(),
                new Class<?>[] {BundleContext.class}, (proxy, m, args) -> {
                    if (m.getName().equals("registerService") && args.length == 3 && args[0] instanceof Class<?> type
                            && args[2] instanceof Dictionary<?, ?> props) {
                        if (type == MessageProcessor.class) {
                            core.processor((String) props.get(MessageProcessor.TYPE), (MessageProcessor) args[1]);
                        } else if (type == CommandHandler.class) {
                            core.command((String) props.get(CommandHandler.TYPE), (CommandHandler) args[1]);
                        } else {
                            throw new UnsupportedOperationException("register " + type);
                        }
                        return registration;
                    }
                    if (m.getDeclaringClass() == Object.class) {
                        return switch (m.getName()) {
                            case "hashCode" -> System.identityHashCode(proxy);
                            case "equals" -> proxy == args[0];
                            default -> "CoreFiles.registry";
                        };
                    }
                    throw new UnsupportedOperationException(m.getName());
                });
    }
}
