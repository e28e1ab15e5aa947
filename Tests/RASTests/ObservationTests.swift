import FakeModem
import RAS
import Synchronization
import Testing
import TestSupport

@Suite("What the connection manager tells its observer")
struct ObservationTests {
    /// The observations, in the order the manager made them.
    final class Log: Sendable {
        private let items = Mutex<[RasConnectionObservation]>([])
        var all: [RasConnectionObservation] { items.withLock { $0 } }
        func record(_ observation: RasConnectionObservation) { items.withLock { $0.append(observation) } }

        /// How the dials of `handle` ended (the error numbers; 0 for Connected).
        func dialResults(_ handle: RasConnectionHandle) -> [UInt32] {
            all.compactMap {
                guard case .dialEnded(let connection, let error, _) = $0, connection.handle == handle else { return nil }
                return error?.code ?? 0
            }
        }

        /// The removals of `handle`: the bytes sent and the hang-up's duration.
        func removals(_ handle: RasConnectionHandle) -> [(sent: Int, hangUp: Duration?)] {
            all.compactMap {
                guard case .removed(let connection, let statistics, let hangUp) = $0, connection.handle == handle else { return nil }
                return (statistics.bytesSent, hangUp)
            }
        }
    }

    @Test("a dial ends once: Connected (no error), its failure's error, or 631 when hung up first; removal comes last")
    func dialsEndOnceAndRemovalsFollow() async throws {
        let log = Log()
        let lab = try await ModemLab(
            routes: [
                NumberRoute(.exact("5550100"), .result(.busy, delay: .milliseconds(20))),
                NumberRoute(.exact("5550200"), CallOutcome(kind: .silence)),
            ],
            count: 2, observer: log.record)

        let (connected, _) = try await lab.dial("5551234")
        #expect(log.dialResults(connected) == [0])
        let (busy, _) = try await lab.dial("5550100", modem: 1)
        #expect(log.dialResults(busy) == [676])
        await lab.manager.reportStatistics()
        let reported = log.all.compactMap { observation -> RasConnectionHandle? in
            guard case .statistics(let connection, let statistics) = observation else { return nil }
            return statistics.handle == connection.handle ? connection.handle : nil
        }
        #expect(reported == [connected, busy], "every connection, in handle order")

        try await lab.hangUpAndWait(connected)
        try await lab.hangUpAndWait(busy)
        let aborted = try await lab.manager.dial(.number("5550200", device: lab.port()))
        #expect(await TestSupport.eventually { lab.bank.modems[0].isOffHook })
        #expect(log.dialResults(aborted.handle).isEmpty, "no result yet")
        try await lab.hangUpAndWait(aborted.handle)
        #expect(log.dialResults(aborted.handle) == [631])

        for handle in [connected, busy, aborted.handle] {
            #expect(log.dialResults(handle).count == 1, "one end per dial")
            let removals = log.removals(handle)
            #expect(removals.count == 1 && removals.first?.hangUp.map { $0 > .zero } == true, "\(handle): \(removals)")
            let last = log.all.lastIndex {
                if case .removed(let connection, _, _) = $0 { connection.handle == handle } else { false }
            }
            let lastOther = log.all.lastIndex {
                switch $0 {
                case .dialEnded(let connection, _, _), .statistics(let connection, _): connection.handle == handle
                case .removed: false
                }
            }
            #expect((last ?? 0) > (lastOther ?? Int.max), "the removal is the connection's last observation")
        }
        await lab.finish()
    }
}
