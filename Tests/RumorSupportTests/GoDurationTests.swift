import Testing

import RumorSupport

@Suite struct GoDurationTests {
    @Test(arguments: [
        ("100ms", Duration.milliseconds(100)), ("1.5s", .milliseconds(1500)), ("1m30s", .seconds(90)),
        ("2h", .seconds(7200)), ("250us", .microseconds(250)), ("250µs", .microseconds(250)), ("0", .zero),
        (" 30s ", .seconds(30)), (".5s", .milliseconds(500)), ("1h0m0.25s", .milliseconds(3_600_250)),
        ("2562047h", .seconds(2562047 * 3600)),
    ])
    func parsesGoSyntax(text: String, expected: Duration) throws {
        #expect(try GoDuration.parse(text) == expected)
    }

    @Test(arguments: [
        "", "10", "ms", "5 parsecs", "-1s", "9999999999h", "2562048h", "99999999999999999999999s", "1e3s", ".s",
        "1.5.5s", "NaNs", "infh", String(repeating: "9", count: 1 << 20) + "s",
    ])
    func rejectsWithAnErrorNamingTheText(text: String) {
        #expect {
            try GoDuration.parse(text)
        } throws: { error in
            let message = "\(error)"
            return message.hasPrefix("invalid duration \"\(text.prefix(20))") && message.count < 200
        }
    }

    @Test func formatsAsGoPrints() {
        #expect(GoDuration.format(.seconds(1)) == "1s")
        #expect(GoDuration.format(.milliseconds(1500)) == "1.5s")
        #expect(GoDuration.format(.milliseconds(250)) == "250ms")
        #expect(GoDuration.format(.seconds(90)) == "1m30s")
        #expect(GoDuration.format(.seconds(3600)) == "1h0m0s")
        #expect(GoDuration.format(.nanoseconds(1500)) == "1.5µs")
        #expect(GoDuration.format(.zero) == "0s")
    }
}
