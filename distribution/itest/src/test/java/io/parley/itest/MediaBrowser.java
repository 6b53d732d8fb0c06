package io.parley.itest;

import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
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

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import java.util.logging.Level;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * One headless Chromium (Debian's {@code chromium} + {@code chromium-driver}, as in {@link BrowserChatIT}) with its own
 * profile, for the tests of voice and video messages and calls: Chromium's fake camera and microphone (a test pattern
 * and a beep) stand in for real devices, permission prompts are answered yes, and media may play without a gesture.
 * Each instance is its own user's device (own localStorage).
 */
final class MediaBrowser implements AutoCloseable {
    static final Path CHROMIUM = Path.of(System.getProperty("parley.chromium", "/usr/bin/chromium"));
    static final Path CHROMEDRIVER = Path.of(System.getProperty("parley.chromedriver", "/usr/bin/chromedriver"));
    static final Path SCREENSHOTS = Path.of("target/screenshots");
    static final Duration WAIT = Duration.ofSeconds(30);

    final String name;
    final ChromeDriver driver;

    /** Fails the test (it does not skip) when the browser or its driver is missing. */
    static void requireChromium() throws IOException {
        if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
            fail("the browser test needs " + CHROMIUM + " and " + CHROMEDRIVER
                    + ": apt-get install chromium chromium-driver (.ci/run does this when they are missing)");
        }
        Files.createDirectories(SCREENSHOTS);
    }

    /** Opens {@code url} (the web client, with any query such as {@code ?ice=relay}). */
    MediaBrowser(String name, String url) {
        this.name = name;
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1100,760", "--lang=en-US",
                // media: fake camera and microphone, no permission prompt, media plays without a user gesture
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
                // WebRTC between two browsers on one machine: real addresses in candidates, loopback allowed
                "--disable-features=WebRtcHideLocalIpsWithMdns", "--allow-loopback-in-peer-connection");
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort()
                .build();
        this.driver = new ChromeDriver(service, options);
        driver.get(url);
    }

    void signIn(String token) {
        await(d -> d.findElement(By.id("login")).isDisplayed() ? true : null);
        WebElement field = driver.findElement(By.id("login-token"));
        field.clear();
        field.sendKeys(token);
        driver.findElement(By.id("login-submit")).click();
        await(d -> "online".equals(d.findElement(By.id("status")).getAttribute("data-status")) ? true : null);
    }

    void startChat(String peer) {
        driver.findElement(By.id("new-chat-peer")).sendKeys(peer);
        driver.findElement(By.cssSelector("#new-chat button")).click();
        await(d -> d.findElement(By.id("conversation")).isDisplayed() ? true : null);
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
        await(d -> {
            List<WebElement> selected = d.findElements(By.cssSelector("#conversations li[aria-selected='true']"));
            return !selected.isEmpty() && conversation.equals(selected.get(0).getAttribute("data-conversation"))
                    ? true : null;
        });
    }

    void click(String css) {
        await(d -> {
            d.findElement(By.cssSelector(css)).click();
            return true;
        });
    }

    boolean displayed(String css) {
        List<WebElement> found = driver.findElements(By.cssSelector(css));
        return !found.isEmpty() && found.get(0).isDisplayed();
    }

    String textIn(String css) {
        return await(d -> d.findElement(By.cssSelector(css)).getText());
    }

    String attribute(String css, String attribute) {
        return await(d -> d.findElement(By.cssSelector(css)).getAttribute(attribute));
    }

    /** Runs a script (its {@code arguments[0..]} are args) and returns its result. */
    Object script(String js, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(js, args);
    }

    /** @return the number the script returns once it returns one (null means "not yet") */
    double awaitNumber(String js, Object... args) {
        return await(d -> {
            Object v = script(js, args);
            return v instanceof Number n ? n.doubleValue() : null;
        });
    }

    /** Waits until the latest own message of this type is stored (sent, delivered or read) and returns its seq. */
    long awaitOwnSent(String type) {
        try {
            return await(d -> {
                List<WebElement> own = d.findElements(By.cssSelector("#messages li.own[data-type='" + type + "']"));
                if (own.isEmpty()) {
                    return null;
                }
                WebElement last = own.get(own.size() - 1);
                String state = last.getAttribute("data-state");
                if ("failed".equals(state)) {
                    throw new AssertionError(name + ": the " + type + " message failed: " + last.getText());
                }
                return "sent".equals(state) || "delivered".equals(state) || "read".equals(state)
                        ? Long.parseLong(last.getAttribute("data-seq")) : null;
            });
        } catch (TimeoutException e) {
            throw new AssertionError(name + ": no " + type + " message was stored; shown: "
                    + driver.findElement(By.id("messages")).getText(), e);
        }
    }

    /** Waits for the condition; on timeout the exception carries what the page shows and its console. */
    <T> T await(Function<WebDriver, T> condition) {
        return await(WAIT, condition);
    }

    <T> T await(Duration timeout, Function<WebDriver, T> condition) {
        try {
            return new WebDriverWait(driver, timeout)
                    .ignoring(org.openqa.selenium.StaleElementReferenceException.class)
                    .ignoring(org.openqa.selenium.NoSuchElementException.class).until(condition);
        } catch (TimeoutException e) {
            throw new TimeoutException(name + ": " + e.getMessage().lines().findFirst().orElse("") + "\n"
                    + diagnostics(), e);
        }
    }

    /** The page's status line, errors, call panel and browser console; also saves a screenshot named FAILED-name. */
    String diagnostics() {
        StringBuilder out = new StringBuilder();
        try {
            out.append("status: ").append(driver.findElement(By.id("status")).getText()).append('\n');
            out.append("fatal: ").append(driver.findElement(By.id("fatal")).getText()).append('\n');
            out.append("recorder error: ").append(driver.findElement(By.id("recorder-error")).getText()).append('\n');
            out.append("call: ").append(script("const c = document.getElementById('call');"
                    + " return c.hidden ? 'none' : JSON.stringify(c.dataset) + ' ' + c.innerText;")).append('\n');
            out.append("call notice: ").append(driver.findElement(By.id("call-notice")).getText()).append('\n');
            out.append("messages: ").append(driver.findElement(By.id("messages")).getText().replace('\n', '|'))
                    .append('\n');
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
        Files.copy(png.toPath(), SCREENSHOTS.resolve(label + ".png"), StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public void close() {
        driver.quit();
    }
}
