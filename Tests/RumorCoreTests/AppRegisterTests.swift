@testable import RumorCore
import RumorWire
import Testing

/// The apps register on its own: what it keeps, what it calls older or malformed, and a gate's refusal reported
/// once per record (Instance+Apps turns these into events and warnings; AppRecordRulesTests cover that).
@Suite struct AppRegisterTests {
    struct OnlyOrigin: AppRecordGate {
        var origin: String
        func refusal(of record: AppRecord) -> String? { record.origin == origin ? nil : "origin \(record.origin) is not trusted" }
    }

    @Test func keeps_theNewest_refusesOnce_andReportsMalformedRecords() {
        var register = AppRegister()
        register.gate = OnlyOrigin(origin: "ops")
        let v1 = AppRecord(name: "site", serial: 1, ltime: 1, origin: "ops", spec: Array("v1".utf8))
        #expect(register.offer(v1, gated: true) == .kept)
        #expect(register.offer(v1, gated: true) == .older)
        let evil = AppRecord(name: "site", serial: 9, ltime: 1, origin: "evil", spec: Array("v9".utf8))
        #expect(register.offer(evil, gated: true) == .refused("origin evil is not trusted", firstTime: true))
        #expect(register.offer(evil, gated: true) == .refused("origin evil is not trusted", firstTime: false))
        #expect(register.offer(evil, gated: false) == .kept, "ungated: the agent's own store")
        let nameless = AppRecord(name: "", ltime: 1, origin: "ops", spec: [])
        guard case .malformed = register.offer(nameless, gated: true) else { Issue.record("a record without a name was taken"); return }
        #expect(register.records.keys.sorted() == ["site"] && register.records["site"] == evil)
    }
}
