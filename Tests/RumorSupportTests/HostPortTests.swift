import Testing

import RumorSupport

@Suite struct HostPortTests {
    @Test(arguments: [
        ("10.0.0.1", "10.0.0.1:7946"), ("10.0.0.1:8000", "10.0.0.1:8000"), ("[::1]:9", "[::1]:9"), ("::1", "[::1]:7946"),
        ("[fe80::1]", "[fe80::1]:7946"), ("ha", "ha:7946"), ("ha:0", "ha:0"),
    ])
    func parses(text: String, expected: String) throws {
        #expect(try HostPort.parse(text, defaultPort: 7946, what: "bind address").description == expected)
    }

    @Test(arguments: ["", ":80", "[::1", "[::1]x", "a:", "a:65536", "a:-1", "a:+1", "a:99999999999999999999", "a b:1"])
    func rejectsNamingTheSetting(text: String) {
        #expect {
            try HostPort.parse(text, defaultPort: 7946, what: "bind address")
        } throws: { error in
            "\(error)".hasPrefix("invalid bind address \(JSON.quoted(text))")
        }
    }

    @Test func anEmptyHostMayDefault() throws {
        #expect(try HostPort.parse(":7373", defaultPort: 1, defaultHost: "127.0.0.1", what: "RPC address")
            == HostPort(host: "127.0.0.1", port: 7373))
    }
}
