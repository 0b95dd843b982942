import Logging
import RumorCore
import Testing
@testable import RumorActions

@Suite struct SlotTableTests {
    static func backend(_ name: String, _ host: String, _ port: Int = 3000, _ status: MemberStatus = .alive)
        -> BackendMember
    {
        BackendMember(name: name, host: host, port: port, tags: ["role": "backend"], status: status)
    }

    let t0 = ContinuousClock.now

    @Test func assignmentsAreStickyAndReuseTheLowestFreeSlot() {
        let a = Self.backend("a", "10.0.0.1"), b = Self.backend("b", "10.0.0.2"), c = Self.backend("c", "10.0.0.3")
        let one = SlotTable(count: 0).planned(for: [a, b, c], now: t0, drainTimeout: .seconds(30), minimumSlots: 4)
        #expect(one.slots.count == 4)
        #expect(one.slots.map { $0.member?.name } == ["a", "b", "c", nil])
        // b goes away; d joins and takes b's slot; a and c stay where they were.
        let d = Self.backend("d", "10.0.0.4")
        let two = one.planned(for: [a, c, d], now: t0, drainTimeout: .seconds(30), minimumSlots: 4)
        #expect(two.slots.map { $0.member?.name } == ["a", "d", "c", nil])
        #expect(two.runtimeCommands(from: one, backend: "be") == [
            "set server be/srv2 addr 10.0.0.4 port 3000", "set server be/srv2 state ready",
        ])
    }

    @Test func leavingDrainsThenFrees() {
        let a = Self.backend("a", "10.0.0.1")
        let one = SlotTable(count: 0).planned(for: [a], now: t0, drainTimeout: .seconds(30), minimumSlots: 2)
        var leaving = a
        leaving.status = .leaving
        let two = one.planned(for: [leaving], now: t0 + .seconds(1), drainTimeout: .seconds(30), minimumSlots: 2)
        #expect(two.slots[0].state == .drain)
        #expect(two.runtimeCommands(from: one, backend: "be") == ["set server be/srv1 state drain"])
        #expect(two.nextDrainExpiry(drainTimeout: .seconds(30)) == t0 + .seconds(31))
        // Still leaving after the drain timeout: freed.
        let three = two.planned(for: [leaving], now: t0 + .seconds(31), drainTimeout: .seconds(30), minimumSlots: 2)
        #expect(three.slots[0].member == nil)
        #expect(three.runtimeCommands(from: two, backend: "be") == ["set server be/srv1 state maint"])
        // Gone (left, failed or reaped): freed at once.
        let gone = two.planned(for: [], now: t0 + .seconds(2), drainTimeout: .seconds(30), minimumSlots: 2)
        #expect(gone.slots[0] == .free)
        // A leaving member that never had a slot gets none.
        let fresh = SlotTable(count: 0).planned(for: [leaving], now: t0, drainTimeout: .seconds(30), minimumSlots: 2)
        #expect(fresh.usedCount == 0)
    }

    @Test func comingBackFromLeavingIsReadyAgain() {
        let a = Self.backend("a", "10.0.0.1")
        var leaving = a
        leaving.status = .leaving
        let one = SlotTable(count: 0).planned(for: [a], now: t0, drainTimeout: .seconds(30), minimumSlots: 1)
        let two = one.planned(for: [leaving], now: t0, drainTimeout: .seconds(30), minimumSlots: 1)
        let three = two.planned(for: [a], now: t0, drainTimeout: .seconds(30), minimumSlots: 1)
        #expect(three.slots[0].state == .ready)
        #expect(three.slots[0].drainingSince == nil)
        #expect(three.runtimeCommands(from: two, backend: "be") == ["set server be/srv1 state ready"])
    }

    @Test func growsByDoublingWhenFull() {
        let members = (1...5).map { Self.backend("m\($0)", "10.0.0.\($0)") }
        let table = SlotTable(count: 0).planned(for: members, now: t0, drainTimeout: .zero, minimumSlots: 4)
        #expect(table.slots.count == 8)
        #expect(table.usedCount == 5)
        let twenty = (1...20).map { Self.backend("n\($0)", "10.0.1.\($0)") }
        #expect(table.planned(for: twenty, now: t0, drainTimeout: .zero, minimumSlots: 4).slots.count == 32)
    }

    @Test func addressChangeMovesTheServer() {
        let a = Self.backend("a", "10.0.0.1")
        let one = SlotTable(count: 0).planned(for: [a], now: t0, drainTimeout: .zero, minimumSlots: 1)
        let two = one.planned(for: [Self.backend("a", "10.0.0.9", 4000)], now: t0, drainTimeout: .zero, minimumSlots: 1)
        #expect(two.runtimeCommands(from: one, backend: "be") == [
            "set server be/srv1 addr 10.0.0.9 port 4000", "set server be/srv1 state ready",
        ])
        #expect(one.runtimeCommands(from: one, backend: "be").isEmpty)
    }

    @Test func structureKeyIgnoresOnlySlotAddressesStatesAndComments() {
        let base = """
            # 2 members
            global
                stats socket /run/a.sock level admin
            backend be
                balance roundrobin
                server srv1 10.0.0.1:3000 check
                server srv2 127.0.0.1:80 check disabled
            backend other
                server srv1 10.0.0.1:3000 check
            """
        let moved = base.replacingOccurrences("# 2 members", "# 3 members")
            .replacingOccurrences("srv2 127.0.0.1:80 check disabled", "srv2 10.0.0.2:3000 check")
        #expect(StructureKey.of(base, backend: "be") == StructureKey.of(moved, backend: "be"))
        let otherBackend = base.replacingOccurrences(
            "backend other\n    server srv1 10.0.0.1", "backend other\n    server srv1 10.0.0.7")
        #expect(StructureKey.of(base, backend: "be") != StructureKey.of(otherBackend, backend: "be"))
        let option = base.replacingOccurrences(
            "srv1 10.0.0.1:3000 check\n    server srv2", "srv1 10.0.0.1:3000 check weight 5\n    server srv2")
        #expect(StructureKey.of(base, backend: "be") != StructureKey.of(option, backend: "be"))
        let balance = base.replacingOccurrences("roundrobin", "leastconn")
        #expect(StructureKey.of(base, backend: "be") != StructureKey.of(balance, backend: "be"))
        let unindented = base.replacingOccurrences(
            "    server srv2 127.0.0.1:80 check disabled", "server srv2 10.0.0.2:3000 check")
        #expect(StructureKey.of(base, backend: "be") == StructureKey.of(unindented, backend: "be"))
        let extraSlot = base.replacingOccurrences(
            "srv2 127.0.0.1:80 check disabled",
            "srv2 127.0.0.1:80 check disabled\n    server srv3 127.0.0.1:80 check disabled")
        #expect(StructureKey.of(base, backend: "be") != StructureKey.of(extraSlot, backend: "be"))
    }
}

@Suite struct RuntimeAPIParsingTests {
    @Test func runtimeModeNeedsSlotsAndTheAdminSocket() {
        let good = """
            global
                stats socket /run/a.sock mode 600 level admin expose-fd listeners
            backend be
                server srv1 10.0.0.1:3000 check
                server srv2 127.0.0.1:80 check disabled
            """
        #expect(StructureKey.runtimeProblem(good, backend: "be", slotCount: 2, statsSocket: "/run/a.sock") == nil)
        #expect(StructureKey.runtimeProblem(good, backend: "be", slotCount: 3, statsSocket: "/run/a.sock")?
            .contains("srv3 is missing") == true)
        #expect(StructureKey.runtimeProblem(good, backend: "be", slotCount: 2, statsSocket: "/run/b.sock")?
            .contains("stats socket /run/b.sock") == true)
        let userLevel = good.replacingOccurrences("level admin", "level user")
        #expect(StructureKey.runtimeProblem(userLevel, backend: "be", slotCount: 2, statsSocket: "/run/a.sock") != nil)
    }

    @Test func showProcOf26() throws {
        let text = """
            #<PID>          <type>          <reloads>       <uptime>        <version>
            26600           master          3 [failed: 1]   0d00h10m22s     2.6.12-1+deb12u4
            # workers
            8287            worker          0               0d00h00m00s     2.6.12-1+deb12u4
            # old workers
            8100            worker          1               0d00h00m07s     2.6.12-1+deb12u4
            # programs

            """
        let list = try #require(HAProxyProcessList.parse(text))
        #expect(list.masterPID == 26600)
        #expect(list.reloads == 3)
        #expect(list.failedReloads == 1)
        #expect(list.workers == [8287])
        #expect(list.oldWorkers == [8100])
        #expect(HAProxyProcessList.parse("Unknown command.\n") == nil)
    }

    @Test func serverAdminStates() {
        func state(_ admin: Int) -> SlotState {
            ServerRuntimeState(name: "s", address: "a", port: 1, operationalState: 2, adminState: admin).state
        }
        #expect(state(0) == .ready)
        #expect(state(4) == .ready)  // "configured disabled" marker left after `state ready`
        #expect(state(5) == .maint)
        #expect(state(8) == .drain)
        #expect(state(12) == .drain)
        #expect(state(0x20) == .maint)
    }

    @Test func runtimeAnswers() {
        #expect(HAProxyRuntimeAPI.isSuccess(command: "set server b/s state ready", response: ""))
        #expect(HAProxyRuntimeAPI.isSuccess(
            command: "set server b/s addr 1.2.3.4 port 80",
            response: "IP changed from '127.0.0.1' to '1.2.3.4', port changed from '1' to '80' by 'stats socket "
                + "command'"))
        #expect(!HAProxyRuntimeAPI.isSuccess(command: "set server b/x state ready", response: "No such server."))
        #expect(!HAProxyRuntimeAPI.isSuccess(command: "set server b/s state ready", response: "Permission denied"))
    }

    @Test func haproxyLogLevels() {
        #expect(HAProxyMaster.level(of: "[ALERT]    (1) : config : parsing") == .error)
        #expect(HAProxyMaster.level(of: "[WARNING]  (2) : Server backends/srv2 is DOWN, reason: Layer4") == .warning)
        #expect(
            HAProxyMaster.level(of: "[WARNING]  (2) : Proxy http stopped (cumulated conns: FE: 3, BE: 0).") == .info)
        #expect(HAProxyMaster.level(of: "[NOTICE]   (1) : New worker (3) forked") == .debug)
    }

    static func server(_ name: String, _ address: String, _ port: Int, admin: Int) -> ServerRuntimeState {
        ServerRuntimeState(name: name, address: address, port: port, operationalState: 2, adminState: admin)
    }

    @Test func reconcilingSetsOnlyTheServersThatDifferFromTheTable() throws {
        let a = SlotTableTests.backend("a", "10.0.0.1"), b = SlotTableTests.backend("b", "10.0.0.2")
        let table = SlotTable(count: 0).planned(for: [a, b], now: .now, drainTimeout: .seconds(30), minimumSlots: 3)
        let actual = [
            "srv1": Self.server("srv1", "10.0.0.1", 3000, admin: 0),  // as planned: untouched
            "srv2": Self.server("srv2", "10.0.0.9", 3000, admin: 0),  // moved: address, then state
            "srv3": Self.server("srv3", "127.0.0.1", 1, admin: 0),  // free but ready: to maint
        ]
        #expect(try table.reconcileCommands(actual: actual, backend: "be") == [
            "set server be/srv2 addr 10.0.0.2 port 3000", "set server be/srv2 state ready",
            "set server be/srv3 state maint",
        ])
    }

    @Test func reconcilingNamesAServerHAProxyDoesNotHave() {
        let table = SlotTable(count: 2)
        let actual = ["srv1": Self.server("srv1", "127.0.0.1", 1, admin: 1)]
        #expect(throws: SlotTable.MissingServer(server: "srv2")) {
            try table.reconcileCommands(actual: actual, backend: "be")
        }
    }
}

extension String {
    func replacingOccurrences(_ a: String, _ b: String) -> String { replacing(a, with: b) }
}
