package io.parley.itest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One scrape of {@code GET /metrics} (Prometheus text format) as series → value, and the metric names that the Grafana
 * dashboard ({@code docs/grafana/parley-dashboard.json}) queries, so a test can check the dashboard only asks for
 * what the server exports.
 */
final class MetricsScrape {

    /** The metric families a dashboard query may name. */
    private static final Pattern METRIC = Pattern.compile("\\b((?:parley|jvm|process|system)_[a-z0-9_]+)");

    /** Meters that exist only while a notification channel (push, webhooks) is deployed. */
    static final Set<String> CHANNEL_ONLY = Set.of("parley_notifications_total", "parley_dispatch_queue_depth");

    private final Map<String, Double> series = new LinkedHashMap<>();
    private final Set<String> names = new TreeSet<>();
    final String text;

    MetricsScrape(String text) {
        this.text = text;
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            String key = line.substring(0, space);
            series.put(key, Double.parseDouble(line.substring(space + 1)));
            int brace = key.indexOf('{');
            names.add(brace < 0 ? key : key.substring(0, brace));
        }
    }

    /**
     * @param series the name and labels exactly as exported, e.g. {@code parley_messages_sent_total{type="text"}}
     * @return the value, or 0 if the series is not exported
     */
    double value(String series) {
        return this.series.getOrDefault(series, 0.0);
    }

    boolean has(String series) {
        return this.series.containsKey(series);
    }

    /** Every metric name exported (series names without labels, {@code _bucket}/{@code _count}/... included). */
    Set<String> names() {
        return names;
    }

    /** The dashboard. */
    static Path dashboard() {
        Path fromItest = Path.of("../../docs/grafana/parley-dashboard.json");
        return Files.exists(fromItest) ? fromItest : Path.of("docs/grafana/parley-dashboard.json");
    }

    /** Every metric name used in the dashboard's panel queries and template variables. */
    static Set<String> dashboardNames(Path dashboard) throws IOException {
        Map<String, Object> root = HttpApiIT.map(HttpApiIT.Json.parse(Files.readString(dashboard)));
        Set<String> out = new TreeSet<>();
        for (Object p : HttpApiIT.list(root.get("panels"))) {
            for (Object t : HttpApiIT.list(HttpApiIT.map(p).get("targets"))) {
                collect(String.valueOf(HttpApiIT.map(t).get("expr")), out);
            }
        }
        for (Object v : HttpApiIT.list(HttpApiIT.map(root.get("templating")).get("list"))) {
            Object def = HttpApiIT.map(v).get("definition");
            if (def != null) {
                collect(def.toString(), out);
            }
        }
        return out;
    }

    private static void collect(String expr, Set<String> out) {
        Matcher m = METRIC.matcher(expr);
        while (m.find()) {
            out.add(m.group(1));
        }
    }

    /** @return the dashboard's metric names this scrape does not export, less {@code allowedMissing} */
    Set<String> missingFrom(Path dashboard, Set<String> allowedMissing) throws IOException {
        Set<String> missing = new TreeSet<>(dashboardNames(dashboard));
        missing.removeAll(names);
        missing.removeAll(allowedMissing);
        return missing;
    }
}
