package io.parley.transport.support;

import javax.crypto.Cipher;
import javax.crypto.EncryptedPrivateKeyInfo;
import javax.crypto.SecretKey;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.PBEParameterSpec;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Self-signed test certificates, generated at test time with the JDK's own {@code keytool} (no openssl, no
 * BouncyCastle) and written as PEM exactly like {@code bin/parley cert} writes them: the certificate, and the
 * unencrypted PKCS#8 key ({@code BEGIN PRIVATE KEY}). Fails, never skips, when keytool cannot be run.
 */
public final class TestCertificates {

    private static final String PASSWORD = "changeit";
    private static final AtomicInteger COUNTER = new AtomicInteger();

    private TestCertificates() {
    }

    /**
     * A generated certificate and its key, in PEM files and in memory.
     *
     * @param certPem the certificate, PEM
     * @param keyPem  the unencrypted PKCS#8 private key, PEM
     */
    public record Generated(Path certPem, Path keyPem, X509Certificate certificate, PrivateKey key) {

        /** A client context that trusts this certificate and nothing else. */
        public SSLContext trustingContext() throws GeneralSecurityException, IOException {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("test", certificate);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, tmf.getTrustManagers(), null);
            return context;
        }

        /** A server context presenting this certificate. */
        public SSLContext serverContext() throws GeneralSecurityException, IOException {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("test", key, PASSWORD.toCharArray(), new X509Certificate[] {certificate});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, PASSWORD.toCharArray());
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), null, null);
            return context;
        }

        /**
         * Writes the key encrypted with {@code password} (PKCS#8 PBES2, PBKDF2-HMAC-SHA256 + AES-256-CBC, as
         * {@code openssl pkcs8 -topk8 -v2 aes-256-cbc} writes it) to {@code file}.
         */
        public Path writeEncryptedKey(Path file, String password) throws GeneralSecurityException, IOException {
            String algorithm = "PBEWithHmacSHA256AndAES_256";
            byte[] salt = new byte[16];
            byte[] iv = new byte[16];
            SecureRandom random = new SecureRandom();
            random.nextBytes(salt);
            random.nextBytes(iv);
            SecretKey secret = SecretKeyFactory.getInstance(algorithm)
                    .generateSecret(new PBEKeySpec(password.toCharArray()));
            Cipher cipher = Cipher.getInstance(algorithm);
            cipher.init(Cipher.ENCRYPT_MODE, secret, new PBEParameterSpec(salt, 10_000, new IvParameterSpec(iv)));
            byte[] encrypted = cipher.doFinal(key.getEncoded());
            // the JDK names the parameters by the cipher; EncryptedPrivateKeyInfo needs them named by their OID
            AlgorithmParameters pbes2 = AlgorithmParameters.getInstance("PBES2");
            pbes2.init(cipher.getParameters().getEncoded());
            byte[] der = new EncryptedPrivateKeyInfo(pbes2, encrypted).getEncoded();
            Files.writeString(file, pem("ENCRYPTED PRIVATE KEY", der), StandardCharsets.US_ASCII);
            return file;
        }
    }

    /** A certificate for {@code CN=localhost} with subject alternative names DNS:localhost and IP:127.0.0.1. */
    public static Generated localhost(Path dir) throws IOException {
        return generate(dir, "localhost", "dns:localhost", "ip:127.0.0.1");
    }

    /**
     * Generates an EC P-256 self-signed certificate valid for two days.
     *
     * @param sans subject alternative names in keytool syntax, e.g. {@code dns:localhost}, {@code ip:127.0.0.1}
     */
    public static Generated generate(Path dir, String cn, String... sans) throws IOException {
        String prefix = cn.replaceAll("[^A-Za-z0-9.-]", "_") + "-" + COUNTER.incrementAndGet();
        Path store = dir.resolve(prefix + ".p12");
        Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
        List<String> command = new ArrayList<>(List.of(keytool.toString(), "-genkeypair", "-alias", "parley",
                "-keyalg", "EC", "-groupname", "secp256r1", "-sigalg", "SHA256withECDSA",
                "-dname", "CN=" + cn, "-validity", "2", "-storetype", "PKCS12", "-keystore", store.toString(),
                "-storepass", PASSWORD, "-keypass", PASSWORD, "-noprompt"));
        if (sans.length > 0) {
            command.add("-ext");
            command.add("SAN=" + String.join(",", sans));
        }
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output;
        try (InputStream in = process.getInputStream()) {
            output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try {
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IOException("keytool failed (" + command + "): " + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for keytool", e);
        }
        try {
            KeyStore keyStore = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(store)) {
                keyStore.load(in, PASSWORD.toCharArray());
            }
            X509Certificate certificate = (X509Certificate) keyStore.getCertificate("parley");
            PrivateKey key = (PrivateKey) keyStore.getKey("parley", PASSWORD.toCharArray());
            Path certPem = dir.resolve(prefix + "-cert.pem");
            Path keyPem = dir.resolve(prefix + "-key.pem");
            Files.writeString(certPem, pem("CERTIFICATE", certificate.getEncoded()), StandardCharsets.US_ASCII);
            Files.writeString(keyPem, pem("PRIVATE KEY", key.getEncoded()), StandardCharsets.US_ASCII);
            return new Generated(certPem, keyPem, certificate, key);
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot read the keystore keytool wrote", e);
        }
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}
