import Testing
import RumorMetrics

struct MetricsTextTests {
    @Test func familiesHaveHelpAndTypeOnce_andSamplesFollow() {
        var m = MetricsText()
        let first = m.family("rumor_members", .gauge, "Members by status.")
        #expect(first)
        m.sample("rumor_members", [("status", "alive")], 3)
        let again = m.family("rumor_members", .gauge, "again")
        #expect(!again, "a second HELP/TYPE for one family is refused")
        m.single("rumor_probes_total", .counter, "Probes.", 12)
        #expect(m.text == """
            # HELP rumor_members Members by status.
            # TYPE rumor_members gauge
            rumor_members{status="alive"} 3
            # HELP rumor_probes_total Probes.
            # TYPE rumor_probes_total counter
            rumor_probes_total 12

            """)
    }

    @Test func labelValuesAndHelpAreEscaped_asTheFormatRequires() {
        var m = MetricsText()
        m.family("x", .gauge, "line one\nback\\slash \"quoted\"")
        m.sample("x", [("app", "a\"b\\c\nd")], 1)
        #expect(m.text.contains(#"# HELP x line one\nback\\slash "quoted""#))
        #expect(m.text.contains(#"x{app="a\"b\\c\nd"} 1"#))
    }

    @Test func valuesPrintAsIntegersWhenWhole_andSpecialsAsPrometheusSpellsThem() {
        var m = MetricsText()
        m.family("v", .gauge, "v")
        for value in [0, 2.5, 1e20, .infinity, -.infinity, .nan] { m.sample("v", [], value) }
        #expect(m.text.split(separator: "\n").dropFirst(2).map { String($0.split(separator: " ")[1]) }
            == ["0", "2.5", "1e+20", "+Inf", "-Inf", "NaN"])
    }

    @Test func histogramBucketsAreCumulative_withInfSumAndCount() {
        var h = Histogram(bounds: [0.1, 1])
        for v in [0.05, 0.5, 0.7, 3] { h.observe(v) }
        var m = MetricsText()
        m.family("rtt_seconds", .histogram, "rtt")
        m.histogram("rtt_seconds", [("peer", "a")], h)
        #expect(m.text.contains(#"rtt_seconds_bucket{peer="a",le="0.1"} 1"#))
        #expect(m.text.contains(#"rtt_seconds_bucket{peer="a",le="1"} 3"#))
        #expect(m.text.contains(#"rtt_seconds_bucket{peer="a",le="+Inf"} 4"#))
        #expect(m.text.contains(#"rtt_seconds_sum{peer="a"} 4.25"#))
        #expect(m.text.contains(#"rtt_seconds_count{peer="a"} 4"#))
    }
}
