import RumorWire
import Testing

/// Which addresses count as loopback (the agent warns about an RPC listener bound anywhere else without rpc_auth).
@Suite struct AddressTests {
    @Test func loopbackIsAll127AndOnlyColonColonOne() {
        for host in ["127.0.0.1", "127.9.8.7", "::1"] { #expect(Address(host: host, port: 0)?.isLoopback == true, "\(host)") }
        for host in ["0.0.0.0", "10.0.0.1", "128.0.0.1", "::", "::2", "fe80::1"] {
            #expect(Address(host: host, port: 0)?.isLoopback == false, "\(host)")
        }
    }
}
