package io.parley.launcher;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

class UnresolvedImportsTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "(&(osgi.wiring.package=a.b)(version>=2.0.0)(!(version>=3.0.0))) | [2.0.0,3.0.0)",
            "(&(osgi.wiring.package=a.b)(version>=1.2.0)(version<=1.2.0))    | [1.2.0,1.2.0]",
            "(&(osgi.wiring.package=a.b)(!(version<=1.0.0))(!(version>=2.0.0))) | (1.0.0,2.0.0)",
            "(&(osgi.wiring.package=a.b)(version>=1.5.0))                    | 1.5.0 or later",
            "(&(osgi.wiring.package=a.b)(!(version>=2.0.0)))                 | [0.0.0,2.0.0)",
            "(osgi.wiring.package=a.b)                                       | (any version)",
    })
    void writesTheFiltersVersionRangeInIntervalNotation(String filter, String range) {
        assertEquals(range, UnresolvedImports.range(filter));
    }
}
