/**
 * The Parley Java client SDK: {@link io.parley.client.ParleyClient} connects to a Parley server over TCP or TLS
 * (protocol v1), sends messages with acknowledgement, and hands received messages to a
 * {@link io.parley.client.MessageListener} de-duplicated, gapless and in seq order per conversation, resuming
 * across reconnects. It also manages groups ({@link io.parley.client.Groups}), lists conversations with unread
 * counts, moves read cursors and relays typing indicators ({@link io.parley.client.ReadListener},
 * {@link io.parley.client.TypingListener}), recalls messages ({@link io.parley.client.Recalls}), and sends, reads and
 * downloads files and images ({@link io.parley.client.Attachments}), and voice and video messages
 * ({@link io.parley.client.MediaMessages}), and signals voice and video calls ({@link io.parley.client.Calls},
 * {@link io.parley.client.CallEvents}).
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.8.0")
package io.parley.client;
