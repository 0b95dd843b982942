import RumorAgent
import RumorWire
import Testing

/// The `apps` RPC's typed request (docs/agent.md#rpc-commands): a signed change round-trips, and an operation that
/// is not in the one list is refused by name, with the list.
@Suite struct RPCAppsRequestTests {
    func decode(_ request: RPCAppsRequest) throws -> RPCAppsRequest {
        var writer = MessagePackWriter(.rpc)
        request.encode(to: &writer)
        var reader = MessagePackReader(writer.bytes)
        return try RPCAppsRequest(from: try reader.read())
    }

    @Test func aSignedChange_roundTrips_andAReadCarriesNoChangeFields() throws {
        let change = RPCAppsRequest(op: .rollback, name: "site", spec: "{}", serial: 1_796_000_000_000, previous: "abc",
                                    signer: Array(repeating: 7, count: 32), signature: Array(repeating: 9, count: 64))
        #expect(try decode(change) == change)
        let read = RPCAppsRequest(op: .status, name: "site")
        #expect(try decode(read) == read)
        var writer = MessagePackWriter(.rpc)
        read.encode(to: &writer)
        #expect(!String(decoding: writer.bytes, as: UTF8.self).contains("Serial"))
    }

    @Test func anUnknownOperation_isRefusedWithTheList() throws {
        var writer = MessagePackWriter(.rpc)
        writer.writeMapHeader(2)
        writer.write("Name"); writer.write("site")
        writer.write("Op"); writer.write("destroy")
        var reader = MessagePackReader(writer.bytes)
        let value = try reader.read()
        #expect {
            _ = try RPCAppsRequest(from: value)
        } throws: { error in
            "\(error)".contains("unknown apps operation 'destroy'") && "\(error)".contains("ls, inspect, status, record, specs, deploy")
        }
    }
}
