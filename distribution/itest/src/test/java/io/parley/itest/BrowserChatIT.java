package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.ParleyClient;
import io.parley.client.ReadListener;
import io.parley.core.proto.DeliveryUpdate;
import io.parley.core.proto.Message;
import io.parley.core.proto.ReadUpdate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The web client (web/ of the distribution, served by the HTTP transport) in real headless Chromium — Debian's
 * {@code chromium} and {@code chromium-driver}, driven by Selenium — against the assembled server: two users in two
 * browsers chat and see their messages' states, one closes the page and catches up when it comes back, a group, and
 * a TCP SDK client talking to a browser, stickers, images and files (sent, shown, opened, downloaded, recalled).
 * Screenshots go to {@code target/screenshots/} for people to look at.
 *
 * <p>Without the browser this fails (it does not skip): {@code .ci/run} installs both packages when missing.
 */
class BrowserChatIT {

    static final Path CHROMIUM = Path.of(System.getProperty("parley.chromium", "/usr/bin/chromium"));
    static final Path CHROMEDRIVER = Path.of(System.getProperty("parley.chromedriver", "/usr/bin/chromedriver"));
    static final Path SCREENSHOTS = Path.of("target/screenshots");
    static final Duration WAIT = Duration.ofSeconds(20);
    /** upload.max.bytes of the test server (the default is 100 MiB). */
    static final int UPLOAD_MAX_BYTES = 1 << 20;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    static Path work;
    static ServerProcess server;
    static String webUrl;
    final List<Browser> browsers = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
            fail("the browser test needs " + CHROMIUM + " and " + CHROMEDRIVER
                    + ": apt-get install chromium chromium-driver (.ci/run does this when they are missing)");
        }
        Files.createDirectories(SCREENSHOTS);
        server = new ServerProcess(work);
        int httpPort = server.httpPort;
        webUrl = "http://127.0.0.1:" + httpPort + "/";
        ServerProcess.setKey(server.home.resolve("conf/parley.transport.websocket.cfg"), "allowed.origins",
                "http://127.0.0.1:" + httpPort);
        // what an operator edits when the WebSocket transport is not on this page's host at 7701
        Files.writeString(server.home.resolve("web/config.json"),
                "{\"webSocketUrl\": \"ws://127.0.0.1:" + server.webSocketPort + "/parley\"}\n");
        // every message type the client knows: text (deployed by default) and emoji (an extra)
        Files.copy(server.home.resolve("extras/parley-type-emoji.jar"),
                server.home.resolve("deploy/parley-type-emoji.jar"));
        // files and stickers (deploy/ by default); small uploads only, so that a refusal is cheap to provoke
        ServerProcess.setKey(server.home.resolve("conf/parley.blob.cfg"), "upload.max.bytes",
                Integer.toString(UPLOAD_MAX_BYTES));
        server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @AfterEach
    void closeBrowsers() {
        browsers.forEach(Browser::quit);
    }

    @Test
    void twoUsersChatSeeMessageStatesAndCatchUpAfterClosingThePage() throws Exception {
        Browser alice = browser("alice");
        Browser bob = browser("bob");
        alice.signIn(server.tokens().mint("alice", null, Duration.ofMinutes(30)));
        bob.signIn(server.tokens().mint("bob", null, Duration.ofMinutes(30)));

        alice.startChat("bob");
        alice.send("hello bob");
        // bob's page is open (not on this conversation): his device received it, he has not read it
        alice.awaitState("hello bob", "delivered");
        bob.awaitUnread("d:alice:bob", 1);
        alice.screenshot("1-alice-delivered");
        bob.screenshot("1-bob-unread");

        bob.open("d:alice:bob");
        bob.awaitMessage("hello bob");
        alice.awaitState("hello bob", "read");
        bob.awaitUnread("d:alice:bob", 0);

        alice.type("typing something");
        bob.awaitText(By.id("typing"), "alice is typing…");
        alice.clearComposer();

        bob.sendEmoji("🎉");
        Shown emoji = alice.awaitMessage("🎉");
        assertTrue(emoji.cssClass().contains("big"), "an emoji message is shown big");
        assertEquals("emoji", emoji.type());
        alice.screenshot("2-alice-read-and-emoji");

        // bob closes the page; alice's messages are stored but reach no device of his
        bob.leave();
        for (int i = 1; i <= 3; i++) {
            alice.send("while you were away " + i);
        }
        for (int i = 1; i <= 3; i++) {
            alice.awaitState("while you were away " + i, "sent");
        }
        alice.screenshot("3-alice-sent-while-bob-away");

        // he comes back: the page signs in again as the same device, resumes and shows what he missed
        bob.returnToClient();
        bob.awaitUnread("d:alice:bob", 3);
        bob.screenshot("4-bob-back-unread");
        bob.open("d:alice:bob");
        assertEquals(List.of("hello bob", "🎉", "while you were away 1", "while you were away 2",
                "while you were away 3"), bob.awaitTexts(5), "bob's history is complete, in order, each message once");
        for (int i = 1; i <= 3; i++) {
            alice.awaitState("while you were away " + i, "read");
        }
        bob.screenshot("5-bob-caught-up");
        alice.screenshot("5-alice-all-read");

        // a group: created in the browser, seen by the other member, messages carry the sender
        alice.createGroup("team", "bob");
        bob.awaitConversationTitled("# team");
        alice.send("hi team");
        String group = alice.openConversation();
        assertTrue(group.startsWith("g:"), group);
        bob.open(group);
        assertEquals("alice", bob.awaitMessage("hi team").sender());
        bob.send("hello everyone");
        alice.awaitMessage("hello everyone");
        // bob read "hi team": alice sees "read by 1", and still after a reload (receipts are not re-sent on resume)
        alice.awaitStateLabel("hi team", "read by 1");
        alice.leave();
        alice.returnToClient();
        alice.open(group);
        alice.awaitStateLabel("hi team", "read by 1");

        // membership from the group panel: the owner adds a member, a member leaves; both are events in the history
        alice.showMembers();
        alice.awaitMembers(List.of("alice owner", "bob member"));
        alice.addMembers("carol");
        alice.awaitMembers(List.of("alice owner", "bob member", "carol member"));
        alice.awaitMessage("alice added carol");
        bob.showMembers();
        bob.leaveGroup();
        alice.awaitMessage("bob left");
        alice.awaitMembers(List.of("alice owner", "carol member"));
        alice.screenshot("6-alice-group");

        // the owner may not leave before handing the group on: the panel says so and offers "Make owner"
        assertTrue(alice.driver.findElement(By.id("group-owner-hint")).isDisplayed(), "the owner is told to transfer");
        alice.click("#group-members li[data-user='carol'] button.transfer");
        alice.awaitText(By.cssSelector("#group-members li[data-user='carol'] button.transfer"),
                "Confirm: carol becomes owner");
        alice.click("#group-members li[data-user='carol'] button.transfer");
        alice.awaitMembers(List.of("alice admin", "carol owner"));
        alice.awaitMessage("alice handed ownership to carol");
        alice.leaveGroup();
        alice.awaitMessage("alice left");
    }

    @Test
    void thePageFitsAPhoneScreen() throws Exception {
        Browser pat = browser("pat");
        pat.phone(390, 844);
        pat.signIn(server.tokens().mint("pat", null, Duration.ofMinutes(30)));
        pat.assertNoSidewaysScroll("the conversation list");
        pat.createGroup("phone group", "quinn, rosa");
        assertTrue(!pat.driver.findElement(By.tagName("aside")).isDisplayed(), "the conversation takes the screen");
        pat.send("a" + "b".repeat(300) + " and a long word that has to wrap instead of widening the page");
        pat.awaitOwnSent("text");
        pat.showMembers();
        pat.awaitMembers(List.of("pat owner", "quinn member", "rosa member"));
        pat.assertNoSidewaysScroll("a conversation with the members panel open");
        // times: today's messages show the time of day, under a "Today" separator
        assertEquals("Today", pat.textIn("#messages li.day"));
        String time = pat.textIn("#messages li.own .meta");
        assertTrue(time.matches("\\d{1,2}:\\d{2}\\D*"), "a time of day without a date: " + time);
        pat.screenshot("9-pat-phone-conversation");
        pat.click("#back");
        pat.await(d -> d.findElement(By.tagName("aside")).isDisplayed() ? true : null);
        assertTrue(!pat.driver.findElement(By.id("conversation")).isDisplayed(), "back to the list alone");
        pat.assertNoSidewaysScroll("the list after going back");
        pat.screenshot("9-pat-phone-list");
    }

    @Test
    void aTcpClientAndABrowserTalkToEachOther() throws Exception {
        LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        LinkedBlockingQueue<ReadUpdate> reads = new LinkedBlockingQueue<>();
        LinkedBlockingQueue<DeliveryUpdate> delivered = new LinkedBlockingQueue<>();
        ReadListener receipts = new ReadListener() {
            @Override
            public void onRead(ReadUpdate update) {
                reads.add(update);
            }

            @Override
            public void onDelivered(DeliveryUpdate update) {
                delivered.add(update);
            }
        };
        try (ParleyClient carol = server.clientBuilder("carol", "laptop", server.port)
                .messageListener(inbox::add).readListener(receipts).build()) {
            carol.connect().get(15, TimeUnit.SECONDS);
            Browser dave = browser("dave");
            dave.signIn(server.tokens().mint("dave", null, Duration.ofMinutes(30)));

            long seq = carol.sendText("dave", "from the tcp client").get(15, TimeUnit.SECONDS).getSeq();
            DeliveryUpdate got = delivered.poll(15, TimeUnit.SECONDS);
            assertNotNull(got, "the TCP client was not told that dave's browser received its message");
            assertEquals("dave", got.getUser());
            assertEquals(seq, got.getSeq());
            dave.awaitUnread("d:carol:dave", 1);
            dave.open("d:carol:dave");
            dave.awaitMessage("from the tcp client");
            ReadUpdate read = reads.poll(15, TimeUnit.SECONDS);
            assertNotNull(read, "the TCP client was not told that dave read its message");
            assertEquals("dave", read.getUser());
            assertEquals(seq, read.getSeq());

            dave.send("from the browser");
            Message reply = inbox.poll(15, TimeUnit.SECONDS);
            assertNotNull(reply, "the TCP client got nothing from the browser");
            assertEquals("from the browser", Bodies.textOf(reply));
            assertEquals("dave", reply.getSender());
            assertTrue(reply.getSenderDevice().startsWith("web-"), reply.getSenderDevice());
            dave.awaitState("from the browser", "delivered");
            carol.markRead(reply.getConversation(), reply.getSeq());
            dave.awaitState("from the browser", "read");
            dave.screenshot("7-dave-with-tcp-client");

            // recall: dave takes his message back from the page; the SDK client hears of it from the event
            dave.recall("from the browser");
            dave.awaitRecalled(reply.getSeq());
            Message event = inbox.poll(15, TimeUnit.SECONDS);
            assertNotNull(event, "the TCP client was not told of the recall");
            assertTrue(io.parley.client.Recalls.isEvent(event), event.toString());
            assertEquals(reply.getSeq(), io.parley.client.Recalls.of(event).orElseThrow().seq());
            // carol recalls hers through the SDK: the page shows it as recalled, without its text
            carol.recall("d:carol:dave", seq).get(15, TimeUnit.SECONDS);
            dave.awaitRecalled(seq);
            assertTrue(dave.awaitTexts(2).stream().noneMatch(t -> t.startsWith("from the")), "" + dave.awaitTexts(2));
            dave.screenshot("7b-dave-recalled");
        }
    }

    @Test
    void stickersImagesAndFilesAreSentShownOpenedDownloadedAndRecalled() throws Exception {
        putStickerPack("itest", "Test pack", "wave", "Wave", png(96, 96, new Color(0xE0, 0x8A, 0x1E)));
        Path dir = Files.createDirectories(work.resolve("files"));
        Path photo = dir.resolve("photo.png");
        Files.write(photo, png(640, 400, new Color(0x2F, 0x6F, 0xDE)));
        Path notes = dir.resolve("notes.txt");
        String notesText = "meeting notes\nline two\n";
        Files.writeString(notes, notesText);
        Path tooLarge = dir.resolve("too-large.bin");
        Files.write(tooLarge, new byte[UPLOAD_MAX_BYTES + 1]);

        Browser alice = browser("alice2");
        Browser bob = browser("bob2");
        Path downloads = Files.createDirectories(work.resolve("downloads-bob2"));
        bob.downloadTo(downloads);
        alice.signIn(server.tokens().mint("alice2", null, Duration.ofMinutes(30)));
        bob.signIn(server.tokens().mint("bob2", null, Duration.ofMinutes(30)));
        alice.startChat("bob2");

        // a sticker from the panel (sticker.list's catalog), an image and a file from the file input
        String sticker = alice.openStickers("itest", "wave");
        alice.screenshot("9a-alice-sticker-panel");
        alice.click(sticker);
        alice.awaitOwnSent("sticker");
        alice.attach(photo);
        alice.awaitOwnSent("image");
        alice.attach(notes);
        alice.awaitOwnSent("file");
        alice.awaitImageLoaded("#messages li[data-type='sticker'] img.sticker");
        alice.awaitImageLoaded("#messages li[data-type='image'] img.thumb");
        alice.screenshot("9b-alice-sent-sticker-image-file");

        // bob sees all three: the sticker as an image, the image's thumbnail, the file with a download link
        bob.open("d:alice2:bob2");
        long stickerWidth = bob.awaitImageLoaded("#messages li[data-type='sticker'] img.sticker");
        assertEquals(96, stickerWidth, "the sticker's own image");
        long thumbWidth = bob.awaitImageLoaded("#messages li[data-type='image'] img.thumb");
        assertTrue(thumbWidth > 0 && thumbWidth <= 320, "a thumbnail, not the full image: " + thumbWidth);
        assertEquals("photo.png", bob.textIn("#messages li[data-type='image'] .text"));
        assertEquals("📎 notes.txt", bob.textIn("#messages li[data-type='file'] .text"));
        assertEquals("Download", bob.textIn("#messages li[data-type='file'] a.download"));
        String href = bob.driver.findElement(By.cssSelector("#messages li[data-type='file'] a.download"))
                .getAttribute("href");
        assertTrue(href.endsWith("#") && !href.contains("ticket"), "no ticket in the page before a click: " + href);
        bob.screenshot("9c-bob-sees-sticker-image-file");

        // bob opens the image: the overlay shows the full image
        bob.click("#messages li[data-type='image'] button.image-open");
        assertEquals(640, bob.awaitImageLoaded("#overlay-image"), "the full image, at its own width");
        bob.screenshot("9d-bob-opened-image");
        bob.click("#overlay-close");
        bob.await(d -> d.findElement(By.id("overlay")).isDisplayed() ? null : true);

        // bob downloads the file: saved under its name, byte for byte
        bob.click("#messages li[data-type='file'] a.download");
        Path saved = downloads.resolve("notes.txt");
        bob.await(d -> Files.isRegularFile(saved) && notesText.equals(readOrNull(saved)) ? true : null);

        // alice recalls the image: bob's page shows "message recalled" and no image any more, and the bytes are gone
        String thumbnailUrl = bob.driver.findElement(By.cssSelector("#messages li[data-type='image'] img.thumb"))
                .getAttribute("src");
        long imageSeq = Long.parseLong(bob.driver.findElement(By.cssSelector("#messages li[data-type='image']"))
                .getAttribute("data-seq"));
        alice.click("#messages li[data-type='image'] button.recall");
        alice.awaitRecalled(imageSeq);
        bob.awaitRecalled(imageSeq);
        assertTrue(bob.driver.findElements(By.cssSelector("#messages li[data-seq='" + imageSeq + "'] img")).isEmpty(),
                "a recalled image is not shown");
        assertTrue(bob.driver.findElements(By.cssSelector("#messages img.thumb")).isEmpty());
        bob.screenshot("9e-bob-image-recalled");
        alice.screenshot("9e-alice-image-recalled");
        bob.await(d -> status(thumbnailUrl) == 404 ? true : null);

        // a file over the server's upload.max.bytes fails visibly, with the server's reason
        alice.attach(tooLarge);
        alice.await(d -> {
            WebElement li = d.findElement(By.cssSelector("#messages li[data-type='file'][data-state='failed']"));
            return li.getText().contains("BODY_TOO_LARGE") ? true : null;
        });
        alice.screenshot("9f-alice-upload-refused");
    }

    @Test
    void aBadTokenIsRefusedWithAClearMessage() throws Exception {
        Browser eve = browser("eve");
        eve.signIn("not-a-token");
        eve.awaitText(By.id("login-error"), "That is not a token: paste the output of bin/parley token <user>.");
        String forged = server.tokens().mint("eve", null, Duration.ofMinutes(5));
        eve.signIn(forged.substring(0, forged.length() - 4) + "AAAA");
        // not a chat screen "connecting" beside an error: back at the sign-in form, with the server's reason
        String refused = eve.awaitLoginError();
        assertTrue(refused.startsWith("The server refused this token: ") && refused.contains("signature"), refused);
        assertTrue(!eve.driver.findElement(By.id("chat")).isDisplayed(), "the chat screen is gone");
        assertEquals(null, eve.driver.executeScript("return localStorage.getItem('parley.token')"),
                "the refused token is forgotten");
        eve.screenshot("8-eve-bad-token");
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** @return a PNG of width × height: a colour with a lighter diagonal, so that screenshots show something */
    static byte[] png(int width, int height, Color color) throws IOException {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(color);
        g.fillRect(0, 0, width, height);
        g.setColor(color.brighter().brighter());
        g.fillPolygon(new int[] {0, width / 2, width, width / 2}, new int[] {height, 0, 0, height}, 4);
        g.dispose();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }

    /**
     * Creates (or replaces) a sticker pack with one sticker through the HTTP admin API's command endpoint (the only
     * trusted caller of {@code sticker.pack.put}).
     */
    static void putStickerPack(String pack, String packName, String sticker, String stickerName, byte[] image)
            throws Exception {
        String body = "{\"payload\": {\"id\": \"" + pack + "\", \"name\": \"" + packName + "\", \"stickers\": [{\"id\": \""
                + sticker + "\", \"name\": \"" + stickerName + "\", \"content_type\": \"image/png\", \"image\": \""
                + Base64.getEncoder().encodeToString(image) + "\"}]}}";
        HttpRequest request = HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.httpPort + "/v1/commands/sticker.pack.put"))
                .timeout(Duration.ofSeconds(20))
                .header("Authorization", "Bearer " + ServerProcess.ADMIN_TOKEN)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long deadline = System.nanoTime() + WAIT.toNanos();
        HttpResponse<String> r;
        // right after the start the sticker bundle may still be coming up (UNSUPPORTED_COMMAND) or loading (503)
        do {
            r = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200) {
                return;
            }
            Thread.sleep(250);
        } while ((r.statusCode() == 503 || r.body().contains("UNSUPPORTED_COMMAND")) && System.nanoTime() < deadline);
        fail("sticker.pack.put: HTTP " + r.statusCode() + " " + r.body());
    }

    static int status(String url) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    static String readOrNull(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return null;
        }
    }

    private Browser browser(String name) {
        Browser b = new Browser(name);
        browsers.add(b);
        return b;
    }

    /** A message as the page shows it: its CSS classes, type, state (own messages) and sender (others' in groups). */
    record Shown(String cssClass, String type, String state, String sender) {
    }

    /** One headless Chromium with its own profile (so its own localStorage: its own signed-in user and device). */
    static final class Browser {
        final String name;
        final ChromeDriver driver;

        Browser(String name) {
            this.name = name;
            ChromeOptions options = new ChromeOptions();
            options.setBinary(CHROMIUM.toFile());
            LoggingPreferences logs = new LoggingPreferences();
            logs.enable(LogType.BROWSER, Level.ALL);
            options.setCapability("goog:loggingPrefs", logs);
            options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1100,760", "--lang=en-US");
            ChromeDriverService service = new ChromeDriverService.Builder()
                    .usingDriverExecutable(CHROMEDRIVER.toFile())
                    .usingAnyFreePort()
                    .build();
            this.driver = new ChromeDriver(service, options);
            driver.get(webUrl);
        }

        void signIn(String token) {
            await(d -> d.findElement(By.id("login")).isDisplayed() ? true : null);
            WebElement field = driver.findElement(By.id("login-token"));
            field.clear();
            field.sendKeys(token);
            driver.findElement(By.id("login-submit")).click();
            if (token.split("\\.").length == 3) {
                awaitOnlineOrFatal();
            }
        }

        private void awaitOnlineOrFatal() {
            await(d -> {
                if (d.findElement(By.id("login")).isDisplayed()
                        && !d.findElement(By.id("login-error")).getText().isEmpty()) {
                    return true; // refused: back at the sign-in form with the reason
                }
                return "online".equals(d.findElement(By.id("status")).getAttribute("data-status")) ? true : null;
            });
        }

        void startChat(String peer) {
            driver.findElement(By.id("new-chat-peer")).sendKeys(peer);
            driver.findElement(By.cssSelector("#new-chat button")).click();
            await(d -> d.findElement(By.id("conversation")).isDisplayed() ? true : null);
        }

        void createGroup(String name, String members) {
            driver.findElement(By.id("new-group-name")).sendKeys(name);
            driver.findElement(By.id("new-group-members")).sendKeys(members);
            driver.findElement(By.cssSelector("#new-group button")).click();
            await(d -> d.findElement(By.id("conversation-title")).getText().equals("# " + name) ? true : null);
        }

        /** @return the reason the sign-in form shows, once it shows one */
        String awaitLoginError() {
            return await(d -> {
                String text = d.findElement(By.id("login-error")).getText();
                return d.findElement(By.id("login")).isDisplayed() && !text.isEmpty() ? text : null;
            });
        }

        /** Makes the page a phone's: a viewport of width × height CSS pixels, touch, the page's meta viewport. */
        void phone(int width, int height) {
            driver.executeCdpCommand("Emulation.setDeviceMetricsOverride", Map.of("width", width, "height", height,
                    "deviceScaleFactor", 2, "mobile", true));
            driver.navigate().refresh();
            await(d -> ((Number) driver.executeScript("return window.innerWidth")).intValue() == width ? true : null);
        }

        /** Asserts that the page is no wider than its viewport (nothing scrolls sideways). */
        void assertNoSidewaysScroll(String what) {
            long viewport = ((Number) driver.executeScript("return window.innerWidth")).longValue();
            long width = ((Number) driver.executeScript("return document.documentElement.scrollWidth")).longValue();
            assertTrue(width <= viewport, what + " is " + width + " px wide on a " + viewport + " px screen; wider: "
                    + driver.executeScript("return [...document.querySelectorAll('body *')].filter(e =>"
                    + " e.getBoundingClientRect().right > window.innerWidth + 0.5).slice(0, 5)"
                    + ".map(e => e.tagName + '#' + e.id + '.' + e.className).join(', ')"));
        }

        void showMembers() {
            driver.findElement(By.cssSelector("#group-panel summary")).click();
        }

        void awaitMembers(List<String> expected) {
            try {
                await(d -> expected.equals(d.findElements(By.cssSelector("#group-members li")).stream()
                        .map(li -> li.findElement(By.tagName("span")).getText() + " "
                                + li.findElement(By.className("role")).getText()).toList()) ? true : null);
            } catch (TimeoutException e) {
                throw new AssertionError(name + ": members never became " + expected + "; shown: "
                        + driver.findElement(By.id("group-members")).getText() + "; error: "
                        + driver.findElement(By.id("group-error")).getText(), e);
            }
        }

        void addMembers(String users) {
            driver.findElement(By.id("group-add-users")).sendKeys(users);
            driver.findElement(By.cssSelector("#group-add button")).click();
        }

        void leaveGroup() {
            await(d -> d.findElement(By.id("group-leave")).isDisplayed() ? true : null);
            driver.findElement(By.id("group-leave")).click();
        }

        void open(String conversation) {
            await(d -> {
                List<WebElement> item = d.findElements(By.cssSelector("#conversations li[data-conversation='"
                        + conversation + "']"));
                if (item.isEmpty()) {
                    return null;
                }
                item.get(0).click();
                return true;
            });
            await(d -> conversation.equals(selectedConversation(d)) ? true : null);
        }

        /** @return the conversation shown (the list re-renders: elements may go stale, so this retries) */
        String openConversation() {
            return await(Browser::selectedConversation);
        }

        private static String selectedConversation(WebDriver d) {
            List<WebElement> selected = d.findElements(By.cssSelector("#conversations li[aria-selected='true']"));
            return selected.isEmpty() ? null : selected.get(0).getAttribute("data-conversation");
        }

        void type(String text) {
            driver.findElement(By.id("composer-text")).sendKeys(text);
        }

        void clearComposer() {
            driver.findElement(By.id("composer-text")).clear();
        }

        void send(String text) {
            WebElement input = driver.findElement(By.id("composer-text"));
            input.clear();
            input.sendKeys(text);
            driver.findElement(By.id("composer-send")).click();
        }

        /** Clicks Recall on the own message with this text. */
        void recall(String text) {
            await(d -> {
                for (WebElement li : d.findElements(By.cssSelector("#messages li:not(.day)"))) {
                    if (text.equals(li.findElement(By.className("text")).getText())) {
                        li.findElement(By.cssSelector("button.recall")).click();
                        return true;
                    }
                }
                return null;
            });
        }

        /** Waits until the message at {@code seq} in the open conversation shows as recalled. */
        void awaitRecalled(long seq) {
            await(d -> {
                WebElement li = d.findElement(By.cssSelector("#messages li[data-seq='" + seq + "']"));
                return li.getAttribute("class").contains("recalled")
                        && "message recalled".equals(li.findElement(By.className("text")).getText()) ? true : null;
            });
        }

        /** Saves downloads into dir (headless Chromium asks nobody). */
        void downloadTo(Path dir) {
            driver.executeCdpCommand("Browser.setDownloadBehavior", Map.of("behavior", "allow",
                    "downloadPath", dir.toAbsolutePath().toString()));
        }

        void click(String css) {
            await(d -> {
                d.findElement(By.cssSelector(css)).click();
                return true;
            });
        }

        String textIn(String css) {
            return await(d -> d.findElement(By.cssSelector(css)).getText());
        }

        /**
         * Opens the sticker panel (sticker.list's packs as images) and waits for the sticker's image.
         *
         * @return the CSS selector of its button
         */
        String openStickers(String pack, String sticker) {
            driver.findElement(By.id("stickers")).click();
            String css = "#sticker-panel button.sticker[data-pack='" + pack + "'][data-sticker='" + sticker + "']";
            awaitImageLoaded(css + " img");
            return css;
        }

        /** Chooses a file in the composer's file input (what the Attach button opens). */
        void attach(Path file) {
            driver.findElement(By.id("attach-input")).sendKeys(file.toAbsolutePath().toString());
        }

        /** Waits until the latest own message of this type is stored (sent, delivered or read). */
        void awaitOwnSent(String type) {
            try {
                await(d -> {
                    List<WebElement> own = d.findElements(By.cssSelector("#messages li.own[data-type='" + type + "']"));
                    if (own.isEmpty()) {
                        return null;
                    }
                    String state = own.get(own.size() - 1).getAttribute("data-state");
                    return "sent".equals(state) || "delivered".equals(state) || "read".equals(state) ? true : null;
                });
            } catch (TimeoutException e) {
                throw new AssertionError(name + ": no " + type + " message was stored; shown: "
                        + driver.findElement(By.id("messages")).getText(), e);
            }
        }

        /** @return the naturalWidth of the image, once it has loaded */
        long awaitImageLoaded(String css) {
            return await(d -> {
                Object width = driver.executeScript("const i = document.querySelector(arguments[0]);"
                        + " return i && i.complete && i.naturalWidth > 0 ? i.naturalWidth : null;", css);
                return width == null ? null : ((Number) width).longValue();
            });
        }

        /** Waits until the own message with this text shows the state label, e.g. "read by 1". */
        void awaitStateLabel(String text, String label) {
            try {
                await(d -> {
                    for (WebElement li : d.findElements(By.cssSelector("#messages li.own"))) {
                        if (text.equals(li.findElement(By.className("text")).getText())) {
                            return li.findElement(By.className("state")).getText().contains(label) ? true : null;
                        }
                    }
                    return null;
                });
            } catch (TimeoutException e) {
                throw new AssertionError(name + ": \"" + text + "\" never showed \"" + label + "\"; messages: "
                        + driver.findElement(By.id("messages")).getText(), e);
            }
        }

        void sendEmoji(String emoji) {
            driver.findElement(By.cssSelector("#emoji button[data-emoji='" + emoji + "']")).click();
        }

        /**
         * @return the message with this text in the open conversation, read in one go (the page re-renders on every
         *         change, so elements go stale; a stale read is retried)
         */
        Shown awaitMessage(String text) {
            return await(d -> {
                for (WebElement li : d.findElements(By.cssSelector("#messages li:not(.day)"))) {
                    if (text.equals(li.findElement(By.className("text")).getText())) {
                        List<WebElement> sender = li.findElements(By.className("sender"));
                        return new Shown(li.getAttribute("class"), li.getAttribute("data-type"),
                                li.getAttribute("data-state"), sender.isEmpty() ? null : sender.get(0).getText());
                    }
                }
                return null;
            });
        }

        /** @return the texts of the open conversation once it shows at least {@code atLeast} messages */
        List<String> awaitTexts(int atLeast) {
            try {
                return new WebDriverWait(driver, Duration.ofSeconds(5)).until(d -> {
                    List<String> texts = texts();
                    return texts.size() >= atLeast ? texts : null;
                });
            } catch (TimeoutException e) {
                return texts();
            }
        }

        /** Read again when the page re-renders the list between finding the elements and reading them. */
        private List<String> texts() {
            for (int attempt = 1; ; attempt++) {
                try {
                    return driver.findElements(By.cssSelector("#messages li .text")).stream().map(WebElement::getText)
                            .toList();
                } catch (org.openqa.selenium.StaleElementReferenceException e) {
                    if (attempt == 5) {
                        throw e;
                    }
                }
            }
        }

        void awaitState(String text, String state) {
            try {
                await(d -> state.equals(awaitMessage(text).state()) ? true : null);
            } catch (TimeoutException e) {
                throw new AssertionError(name + ": \"" + text + "\" never became " + state + "; it is "
                        + awaitMessage(text).state(), e);
            }
        }

        void awaitUnread(String conversation, int unread) {
            try {
                await(d -> {
                    List<WebElement> badge = d.findElements(By.cssSelector("#conversations li[data-conversation='"
                            + conversation + "'] .unread"));
                    return !badge.isEmpty() && String.valueOf(unread).equals(badge.get(0).getAttribute("data-count"))
                            ? true : null;
                });
            } catch (TimeoutException e) {
                throw new AssertionError(name + ": unread of " + conversation + " never became " + unread + "; list: "
                        + driver.findElement(By.id("conversations")).getText(), e);
            }
        }

        void awaitConversationTitled(String title) {
            await(d -> d.findElements(By.cssSelector("#conversations .title")).stream()
                    .anyMatch(e -> e.getText().equals(title)) ? true : null);
        }

        void awaitText(By element, String text) {
            try {
                await(d -> text.equals(d.findElement(element).getText()) ? true : null);
            } catch (TimeoutException e) {
                throw new AssertionError(name + ": " + element + " never showed \"" + text + "\"; it shows \""
                        + driver.findElement(element).getText() + "\"", e);
            }
        }

        /** Closes the page (its WebSocket goes with it); localStorage keeps the token and device id. */
        void leave() {
            driver.get("about:blank");
        }

        /** Opens the client again: it signs in with the stored token as the same device and resumes. */
        void returnToClient() {
            driver.get(webUrl);
            awaitOnlineOrFatal();
        }

        /** Waits for the condition; on timeout the exception carries what the page shows and its console. */
        <T> T await(Function<WebDriver, T> condition) {
            try {
                return new WebDriverWait(driver, WAIT)
                        .ignoring(org.openqa.selenium.StaleElementReferenceException.class)
                        .ignoring(org.openqa.selenium.NoSuchElementException.class).until(condition);
            } catch (TimeoutException e) {
                throw new TimeoutException(name + ": " + e.getMessage().lines().findFirst().orElse("") + "\n"
                        + diagnostics(), e);
            }
        }

        /** The page's status line, visible error and browser console; also saves a screenshot named FAILED-name. */
        String diagnostics() {
            StringBuilder out = new StringBuilder();
            try {
                out.append("status: ").append(driver.findElement(By.id("status")).getText()).append('\n');
                out.append("login error: ").append(driver.findElement(By.id("login-error")).getText()).append('\n');
                out.append("fatal: ").append(driver.findElement(By.id("fatal")).getText()).append('\n');
                for (LogEntry entry : driver.manage().logs().get(LogType.BROWSER)) {
                    out.append("console: ").append(entry.getLevel()).append(' ').append(entry.getMessage()).append('\n');
                }
                screenshot("FAILED-" + name);
            } catch (RuntimeException | IOException ignored) {
                out.append("(diagnostics incomplete: ").append(ignored).append(")\n");
            }
            return out.toString();
        }

        void screenshot(String label) throws IOException {
            File png = driver.getScreenshotAs(OutputType.FILE);
            Files.copy(png.toPath(), SCREENSHOTS.resolve(label + ".png"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }

        void quit() {
            driver.quit();
        }
    }
}
