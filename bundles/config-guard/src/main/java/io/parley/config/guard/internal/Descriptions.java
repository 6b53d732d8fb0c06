package io.parley.config.guard.internal;

import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;
import org.xml.sax.SAXException;

import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the rules of one bundle's configuration keys from its component descriptions ({@code Service-Component}
 * XML: each {@code <property name type>} of a component is a key of its configuration PIDs) and its metatype
 * ({@code OSGI-INF/metatype/*.xml}: {@code min}/{@code max} of an {@code AD}). An {@code OCD} applies to a PID
 * through a {@code Designate}, else when its id is the PID, else (bnd without {@code @Designate}) when every one
 * of its attribute ids is a property of the component. Plain Java, no OSGi.
 */
final class Descriptions {
    private Descriptions() {
    }

    /** One metatype attribute: its id, type and bounds as written. */
    private record Attribute(String id, String type, String min, String max) {
    }

    /**
     * @param componentXmls the bundle's component description documents
     * @param metatypeXmls  the bundle's metatype documents
     * @return PID → key → rule; keys whose rule checks nothing (Strings) included, so callers can tell "unknown"
     */
    static Map<String, Map<String, Rule>> rules(List<byte[]> componentXmls, List<byte[]> metatypeXmls) {
        Map<String, Map<String, Attribute>> ocds = new LinkedHashMap<>();
        Map<String, String> designates = new HashMap<>();
        for (byte[] xml : metatypeXmls) {
            Document doc = parse(xml);
            if (doc == null) {
                continue;
            }
            for (Element ocd : elements(doc.getDocumentElement(), "OCD")) {
                Map<String, Attribute> ads = new LinkedHashMap<>();
                for (Element ad : elements(ocd, "AD")) {
                    String id = ad.getAttribute("id");
                    ads.put(id, new Attribute(id, ad.getAttribute("type"), ad.getAttribute("min"), ad.getAttribute("max")));
                }
                ocds.put(ocd.getAttribute("id"), ads);
            }
            for (Element designate : elements(doc.getDocumentElement(), "Designate")) {
                String pid = designate.getAttribute("pid").isEmpty() ? designate.getAttribute("factoryPid")
                        : designate.getAttribute("pid");
                for (Element object : elements(designate, "Object")) {
                    designates.put(pid, object.getAttribute("ocdref"));
                }
            }
        }
        Map<String, Map<String, Rule>> result = new HashMap<>();
        for (byte[] xml : componentXmls) {
            Document doc = parse(xml);
            if (doc == null) {
                continue;
            }
            List<Element> components = new ArrayList<>();
            if ("component".equals(localName(doc.getDocumentElement()))) {
                components.add(doc.getDocumentElement());
            }
            components.addAll(elements(doc.getDocumentElement(), "component"));
            for (Element component : components) {
                Map<String, String> types = new LinkedHashMap<>();
                for (Element property : children(component, "property")) {
                    types.put(property.getAttribute("name"), property.getAttribute("type"));
                }
                String pids = component.getAttribute("configuration-pid");
                if (pids.isBlank()) {
                    pids = component.getAttribute("name");
                }
                for (String pid : pids.strip().split("\\s+")) {
                    if (pid.equals("$")) {
                        pid = component.getAttribute("name");
                    }
                    Map<String, Attribute> ocd = ocdFor(pid, types.keySet(), ocds, designates);
                    Map<String, Rule> rules = result.computeIfAbsent(pid, p -> new HashMap<>());
                    for (Map.Entry<String, String> e : types.entrySet()) {
                        Attribute ad = ocd.get(e.getKey());
                        rules.put(e.getKey(), Rule.of(e.getKey(), e.getValue(),
                                ad == null ? null : ad.min(), ad == null ? null : ad.max()));
                    }
                    // keys only the metatype knows (no default in the component description)
                    for (Attribute ad : ocd.values()) {
                        rules.putIfAbsent(ad.id(), Rule.of(ad.id(), ad.type(), ad.min(), ad.max()));
                    }
                }
            }
        }
        return result;
    }

    private static Map<String, Attribute> ocdFor(String pid, Set<String> keys, Map<String, Map<String, Attribute>> ocds,
                                                 Map<String, String> designates) {
        String ref = designates.get(pid);
        if (ref != null && ocds.containsKey(ref)) {
            return ocds.get(ref);
        }
        if (ocds.containsKey(pid)) {
            return ocds.get(pid);
        }
        Map<String, Attribute> best = Map.of();
        for (Map<String, Attribute> ocd : ocds.values()) {
            if (!ocd.isEmpty() && keys.containsAll(ocd.keySet()) && ocd.size() > best.size()) {
                best = ocd;
            }
        }
        return best;
    }

    private static Document parse(byte[] xml) {
        try {
            DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
            f.setNamespaceAware(true);
            f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
            f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            DocumentBuilder b = f.newDocumentBuilder();
            return b.parse(new ByteArrayInputStream(xml));
        } catch (ParserConfigurationException | SAXException | IOException e) {
            return null;
        }
    }

    private static String localName(Node n) {
        String name = n.getLocalName() != null ? n.getLocalName() : n.getNodeName();
        int colon = name.indexOf(':');
        return colon < 0 ? name : name.substring(colon + 1);
    }

    /** Descendant elements with this local name, in document order. */
    private static List<Element> elements(Element root, String name) {
        List<Element> out = new ArrayList<>();
        NodeList all = root.getElementsByTagNameNS("*", name);
        for (int i = 0; i < all.getLength(); i++) {
            out.add((Element) all.item(i));
        }
        return out;
    }

    /** Child elements with this local name. */
    private static List<Element> children(Element parent, String name) {
        List<Element> out = new ArrayList<>();
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && name.equals(localName(e))) {
                out.add(e);
            }
        }
        return out;
    }
}
