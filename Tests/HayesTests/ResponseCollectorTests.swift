import Hayes
import Testing

@Suite("ResponseCollector")
struct ResponseCollectorTests {
    @Test("collects info lines until OK")
    func info() {
        var collector = ResponseCollector()
        #expect(collector.accept(.echo("ATI3")) == nil)
        #expect(collector.accept(.info("U.S. Robotics 56K Voice EXT")) == nil)
        #expect(collector.accept(.info("V5.18.11")) == nil)
        #expect(!collector.isComplete)
        let response = collector.accept(.final(.ok))
        #expect(response == CommandResponse(final: .ok, info: ["U.S. Robotics 56K Voice EXT", "V5.18.11"]))
        #expect(collector.isComplete)
        #expect(collector.response == response)
    }

    @Test("a dial collects connection details and skips rings")
    func dial() {
        var collector = ResponseCollector()
        let connect = FinalResult.connect(ConnectInfo(rate: 115200, protocol: "V34/LAPM/V42B"))
        let responses: [ModemResponse] = [
            .echo("ATDT5551234"), .ring, .ringing, .intermediate(.carrier(rate: 28800, text: "28800")),
            .intermediate(.errorControl("LAPM")), .ringing, .intermediate(.compression("V42BIS")), .final(connect),
        ]
        var results: [CommandResponse] = []
        for response in responses {
            if let done = collector.accept(response) { results.append(done) }
        }
        #expect(results == [CommandResponse(final: connect, details: [
            .carrier(rate: 28800, text: "28800"), .errorControl("LAPM"), .compression("V42BIS"),
        ])])
        #expect(collector.ringCount == 3)
    }

    @Test("failures complete too, unrecognised lines are kept apart")
    func failure() {
        var collector = ResponseCollector()
        #expect(collector.accept(.unrecognised("~~")) == nil)
        #expect(collector.accept(.final(.busy)) == CommandResponse(final: .busy, unrecognised: ["~~"]))
    }

    @Test("after completion further responses are ignored")
    func afterCompletion() {
        var collector = ResponseCollector()
        _ = collector.accept(.final(.error))
        #expect(collector.accept(.info("late")) == nil)
        #expect(collector.accept(.final(.ok)) == nil)
        #expect(collector.response == CommandResponse(final: .error))
    }

    @Test("collected text is capped")
    func cap() {
        var collector = ResponseCollector(maximumTextBytes: 20)
        _ = collector.accept(.info("0123456789"))  // 11
        _ = collector.accept(.info("01234567"))  // 9 -> 20
        _ = collector.accept(.info("x"))  // over
        _ = collector.accept(.unrecognised("y"))
        let response = collector.accept(.final(.ok))
        #expect(response?.info == ["0123456789", "01234567"])
        #expect(response?.unrecognised == [])
        #expect(response?.isTruncated == true)
    }

    @Test("connection details are capped")
    func detailCap() {
        var collector = ResponseCollector()
        for _ in 0..<(ResponseCollector.maximumDetails + 10) {
            _ = collector.accept(.intermediate(.modulation("V34")))
        }
        let response = collector.accept(.final(.noCarrier))
        #expect(response?.details.count == ResponseCollector.maximumDetails)
        #expect(response?.isTruncated == true)
    }
}
