package io.parley.type.support.testing;

import io.parley.blob.fs.FsBlobStore;
import io.parley.core.proto.Message;
import io.parley.core.proto.Ping;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.message.MessageProcessor;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.Dictionary;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The life of a media type's DS component, outside a framework: it registers exactly its type's processor through the
 * {@link BundleContext} it is given (a recording stand-in: only {@code registerService} is answered), the processor
 * refuses a body of another message, a blob store can come and go, and on deactivation the registration is withdrawn
 * and the component's worker threads end.
 */
public final class ComponentLifecycle {

    private ComponentLifecycle() {
    }

    /**
     * @param type          the message type the component serves
     * @param workerPrefix  the name prefix of the component's worker threads
     * @param activate      makes the component with the given context
     * @param bindBlob      the component's blob bind method; then {@code unbindBlob}
     * @param deactivate    the component's deactivate method
     */
    public static <C> void check(String type, String workerPrefix, Path dir, Function<BundleContext, C> activate,
                                 Consumer2<C, BlobStore> bindBlob, Consumer2<C, BlobStore> unbindBlob,
                                 Consumer<C> deactivate) throws Exception {
        Map<String, Object> registered = new ConcurrentHashMap<>();
        List<String> unregistered = new CopyOnWriteArrayList<>();
        BundleContext context = proxy(BundleContext.class, (method, args) -> {
            if (!method.getName().equals("registerService")) {
                throw new UnsupportedOperationException(method.getName());
            }
            String registeredType = String.valueOf(((Dictionary<?, ?>) args[2]).get(MessageProcessor.TYPE));
            registered.put(registeredType, args[1]);
            return proxy(ServiceRegistration.class, (m, a) -> {
                unregistered.add(registeredType);
                return null;
            });
        });
        C component = activate.apply(context);
        assertEquals(Set.of(type), registered.keySet());
        MessageProcessor processor = (MessageProcessor) registered.get(type);
        Message draft = Message.newBuilder().setSender("alice").setType(type)
                .setBody(com.google.protobuf.Any.pack(Ping.getDefaultInstance())).build();
        assertTrue(processor.process(null, draft).toCompletableFuture().get().reason().contains("the body is not"));
        try (FsBlobStore store = new FsBlobStore(dir)) {
            bindBlob.accept(component, store);
            unbindBlob.accept(component, store);
        }
        deactivate.accept(component);
        assertEquals(List.of(type), unregistered);
        awaitThreadsEnd(workerPrefix, "the workers end on deactivation");
    }

    /**
     * Waits up to five seconds for every thread named {@code prefix}... to end (a stopped executor's thread may
     * still be alive for a moment after {@code awaitTermination} returned), failing with {@code what} if one does not.
     */
    public static void awaitThreadsEnd(String prefix, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().startsWith(prefix) && t.isAlive())) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(10);
        }
    }

    /** A two-argument consumer that may throw. */
    @FunctionalInterface
    public interface Consumer2<A, B> {
        void accept(A a, B b) throws Exception;
    }

    @FunctionalInterface
    private interface Answer {
        Object answer(java.lang.reflect.Method method, Object[] args);
    }

    private static <T> T proxy(Class<T> type, Answer answer) {
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type},
                (p, method, args) -> switch (method.getName()) {
                    case "equals" -> p == args[0];
                    case "hashCode" -> System.identityHashCode(p);
                    case "toString" -> type.getSimpleName();
                    default -> answer.answer(method, args);
                }));
    }
}
