package io.parley.transport.http.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Any;
import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.EnumDescriptorProto;
import com.google.protobuf.DescriptorProtos.EnumValueDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Label;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Type;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.MessageOptions;
import com.google.protobuf.Descriptors;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.DynamicMessage;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** JSON bodies for a body message the test defines at run time, as a type bundle's descriptor arrives. */
class BodyJsonTest {

    private final ObjectMapper mapper = new ObjectMapper();
    private final Descriptor location = locationType();

    /**
     * {@code message Location { double lat = 1; double lng = 2; string label = 3; int64 accuracy_mm = 4;
     * uint32 floor = 5; Kind kind = 6; repeated string tags = 7; Place place = 8; bytes blob = 9;
     * map<string, int32> votes = 10; enum Kind { KIND_UNSPECIFIED = 0; KIND_HOME = 1; } message Place { string name = 1; } }}
     */
    private static Descriptor locationType() {
        DescriptorProto place = DescriptorProto.newBuilder().setName("Place")
                .addField(field("name", 1, Type.TYPE_STRING)).build();
        DescriptorProto votesEntry = DescriptorProto.newBuilder().setName("VotesEntry")
                .setOptions(MessageOptions.newBuilder().setMapEntry(true))
                .addField(field("key", 1, Type.TYPE_STRING)).addField(field("value", 2, Type.TYPE_INT32)).build();
        DescriptorProto location = DescriptorProto.newBuilder().setName("Location")
                .addField(field("lat", 1, Type.TYPE_DOUBLE))
                .addField(field("lng", 2, Type.TYPE_DOUBLE))
                .addField(field("label", 3, Type.TYPE_STRING))
                .addField(field("accuracy_mm", 4, Type.TYPE_INT64))
                .addField(field("floor", 5, Type.TYPE_UINT32))
                .addField(field("kind", 6, Type.TYPE_ENUM).toBuilder().setTypeName(".acme.location.v1.Location.Kind"))
                .addField(field("tags", 7, Type.TYPE_STRING).toBuilder().setLabel(Label.LABEL_REPEATED))
                .addField(field("place", 8, Type.TYPE_MESSAGE).toBuilder().setTypeName(".acme.location.v1.Location.Place"))
                .addField(field("blob", 9, Type.TYPE_BYTES))
                .addField(field("votes", 10, Type.TYPE_MESSAGE).toBuilder().setLabel(Label.LABEL_REPEATED)
                        .setTypeName(".acme.location.v1.Location.VotesEntry"))
                .addNestedType(place).addNestedType(votesEntry)
                .addEnumType(EnumDescriptorProto.newBuilder().setName("Kind")
                        .addValue(EnumValueDescriptorProto.newBuilder().setName("KIND_UNSPECIFIED").setNumber(0))
                        .addValue(EnumValueDescriptorProto.newBuilder().setName("KIND_HOME").setNumber(1)))
                .build();
        try {
            return Descriptors.FileDescriptor.buildFrom(FileDescriptorProto.newBuilder().setName("location.proto")
                    .setPackage("acme.location.v1").setSyntax("proto3").addMessageType(location).build(),
                    new Descriptors.FileDescriptor[0]).findMessageTypeByName("Location");
        } catch (Descriptors.DescriptorValidationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static FieldDescriptorProto field(String name, int number, Type type) {
        return FieldDescriptorProto.newBuilder().setName(name).setNumber(number).setType(type)
                .setLabel(Label.LABEL_OPTIONAL).setJsonName(lowerCamel(name)).build();
    }

    private static String lowerCamel(String name) {
        StringBuilder out = new StringBuilder();
        boolean upper = false;
        for (char c : name.toCharArray()) {
            if (c == '_') {
                upper = true;
            } else {
                out.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return out.toString();
    }

    @Test
    void readsAndWritesEveryKindOfField() throws Exception {
        JsonNode in = mapper.readTree("{\"lat\":52.5,\"lng\":\"13.4\",\"label\":\"Home\",\"accuracyMm\":\"9007199254740993\","
                + "\"floor\":4294967295,\"kind\":\"KIND_HOME\",\"tags\":[\"a\",\"b\"],\"place\":{\"name\":\"Kitchen\"},"
                + "\"blob\":\"AQI=\",\"votes\":{\"x\":3}}");
        Any body = BodyJson.fromJson(in, location);
        assertEquals("type.googleapis.com/acme.location.v1.Location", body.getTypeUrl());
        DynamicMessage m = DynamicMessage.parseFrom(location, body.getValue());
        assertEquals(9007199254740993L, m.getField(location.findFieldByName("accuracy_mm")));
        assertEquals(-1, m.getField(location.findFieldByName("floor")), "uint32 max kept in the int's bits");

        JsonNode out = BodyJson.toJson(body, location);
        assertEquals(52.5, out.get("lat").doubleValue());
        assertEquals("9007199254740993", out.get("accuracyMm").textValue(), "64-bit integers as strings");
        assertEquals(4294967295L, out.get("floor").longValue());
        assertEquals("KIND_HOME", out.get("kind").textValue());
        assertEquals("b", out.get("tags").get(1).textValue());
        assertEquals("Kitchen", out.get("place").get("name").textValue());
        assertEquals("AQI=", out.get("blob").textValue());
        assertEquals(3, out.get("votes").get("x").intValue());
        // proto names are accepted too; defaults are left out
        JsonNode short_ = BodyJson.toJson(BodyJson.fromJson(mapper.readTree("{\"accuracy_mm\":5}"), location), location);
        assertEquals("{\"accuracyMm\":\"5\"}", short_.toString());
    }

    @Test
    void refusesWhatDoesNotFitTheMessageNamingTheField() throws Exception {
        for (String bad : new String[] {"{\"nope\":1}", "{\"lat\":\"north\"}", "{\"floor\":-1}", "{\"kind\":\"KIND_MOON\"}",
                "{\"tags\":\"a\"}", "{\"place\":\"Kitchen\"}", "{\"label\":5}", "{\"accuracyMm\":1.5}", "[1]",
                "{\"place\":{\"nope\":true}}"}) {
            ApiException e = assertThrows(ApiException.class, () -> BodyJson.fromJson(mapper.readTree(bad), location), bad);
            assertEquals(400, e.status(), bad);
            assertTrue(e.getMessage().startsWith("body"), e.getMessage());
        }
    }

    /**
     * A 64-bit integer may be given as a string; one of a million digits (what fits in max.body.bytes) would take
     * BigInteger's quadratic parse half a minute of an event loop. Refused from its length.
     */
    @Test
    void anIntegerStringOfAMillionDigitsIsRefusedAtOnce() throws Exception {
        for (String field : new String[] {"accuracyMm", "floor"}) {
            JsonNode huge = mapper.readTree("{\"" + field + "\":\"" + "9".repeat(1_000_000) + "\"}");
            long started = System.nanoTime();
            ApiException e = assertThrows(ApiException.class, () -> BodyJson.fromJson(huge, location));
            assertEquals(400, e.status());
            assertTrue(e.getMessage().contains("body." + field), e.getMessage());
            assertTrue(System.nanoTime() - started < 1_000_000_000L, "refused without parsing the digits");
        }
        // leading zeros and a sign within reason are still numbers
        Any body = BodyJson.fromJson(mapper.readTree("{\"accuracyMm\":\" -000000000000000000000042 \"}"), location);
        assertEquals(-42L, DynamicMessage.parseFrom(location, body.getValue())
                .getField(location.findFieldByName("accuracy_mm")));
    }

    @Test
    void aBodyOfAnotherTypeOrThatDoesNotParseHasNoJson() {
        assertNull(BodyJson.toJson(ProtoMapping.textBody("hi"), location));
        assertNull(BodyJson.toJson(Any.newBuilder().setTypeUrl("type.googleapis.com/acme.location.v1.Location")
                .setValue(com.google.protobuf.ByteString.copyFrom(new byte[] {(byte) 0xFF})).build(), location));
    }

    @Test
    void theSchemaListsTheFields() {
        JsonNode schema = BodyJson.schema(location);
        assertEquals("lat", schema.get(0).get("name").textValue());
        assertEquals("accuracyMm", schema.get(3).get("json_name").textValue());
        assertEquals("int64", schema.get(3).get("type").textValue());
        assertEquals("KIND_HOME", schema.get(5).get("enum").get(1).textValue());
        assertTrue(schema.get(6).get("repeated").booleanValue());
        assertEquals("name", schema.get(7).get("fields").get(0).get("name").textValue());
    }
}
