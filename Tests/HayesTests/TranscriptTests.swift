import Hayes
import Testing

/// One exchange: the command written (whose echo is expected) and the bytes the modem sent.
private struct Exchange {
    var command: ATCommand
    var reply: [UInt8]
}

private func v1Session() throws -> [Exchange] {
    [
        Exchange(command: ATCommand(.reset), reply: bytes("ATZ\r\r\nOK\r\n")),
        Exchange(
            command: try ATCommand(line: "ATE0 Q0 V1 X4 &C1 &D2 S0=0 +FCLASS=0"),
            reply: bytes("ATE0 Q0 V1 X4 &C1 &D2 S0=0 +FCLASS=0\r\r\nOK\r\n")),
        Exchange(command: ATCommand(.identify(3)), reply: bytes("\r\nU.S. Robotics 56K Voice EXT V5.18.11\r\n\r\nOK\r\n")),
        Exchange(command: ATCommand(.capabilities), reply: bytes("\r\n+GCAP: +FCLASS, +MS, +ES, +DS\r\n\r\nOK\r\n")),
        Exchange(command: ATCommand(.queryRegister(7)), reply: bytes("\r\n050\r\n\r\nOK\r\n")),
        Exchange(command: ATCommand(.dial(try DialString("T555-1234"))), reply: bytes(
            "\r\nRING\r\n\r\nCARRIER 28800\r\n\r\nPROTOCOL: LAPM\r\n\r\nCOMPRESSION: V42BIS\r\n"
                + "\r\nCONNECT 115200/V34/LAPM/V42B\r\n")),
    ]
}

private let v1Expected: [ModemResponse] = [
    .final(.ok),
    .final(.ok),
    .info("U.S. Robotics 56K Voice EXT V5.18.11"), .final(.ok),
    .info("+GCAP: +FCLASS, +MS, +ES, +DS"), .final(.ok),
    .info("050"), .final(.ok),
    .ring, .intermediate(.carrier(rate: 28800, text: "28800")), .intermediate(.errorControl("LAPM")),
    .intermediate(.compression("V42BIS")),
    .final(.connect(ConnectInfo(rate: 115200, protocol: "V34/LAPM/V42B", detail: "115200/V34/LAPM/V42B"))),
]

private func v0Session() throws -> [Exchange] {
    [
        Exchange(command: ATCommand(.reset), reply: bytes("ATZ\r0\r")),
        Exchange(command: ATCommand(.queryRegister(7)), reply: bytes("ATS7?\r050\r\n0\r")),
        Exchange(command: ATCommand(.identify(0)), reply: bytes("ATI0\r5601\r\n0\r")),
        Exchange(command: ATCommand(.setRegister(99, 1)), reply: bytes("ATS99=1\r4\r")),
        Exchange(command: ATCommand(.dial(try DialString("5551234"))), reply: bytes("ATD5551234\r2\r7\r")),
        Exchange(command: ATCommand(.dial(try DialString("5551234"))), reply: bytes("ATD5551234\r10\r")),
    ]
}

private let v0Expected: [ModemResponse] = [
    .final(.ok),
    .info("050"), .final(.ok),
    .info("5601"), .final(.ok),
    .final(.error),
    .ring, .final(.busy),
    .final(.connect(ConnectInfo(rate: 2400, detail: "2400"))),
]

/// Plays `session` through a decoder, cutting the whole byte stream at `cuts` (global
/// offsets) as well as between exchanges; flushes at the end. Returns the non-echo
/// responses and the echo count.
private func play(_ session: [Exchange], cuts: [Int], numeric: Bool) -> (responses: [ModemResponse], echoes: Int) {
    var decoder = ResponseDecoder(parser: ResultParser(numericMode: numeric))
    var decoded: [DecodedLine] = []
    var offset = 0
    for exchange in session {
        decoder.expectEcho(exchange.command)
        let end = offset + exchange.reply.count
        let local = cuts.filter { $0 > offset && $0 < end }.map { $0 - offset }
        for chunk in split(exchange.reply, at: local) {
            decoded += decoder.feed(chunk)
        }
        offset = end
    }
    decoded += decoder.flush()
    let echoes = decoded.filter { $0.line.isEcho }.count
    return (decoded.map(\.response).filter { if case .echo = $0 { return false } else { return true } }, echoes)
}

@Suite("Transcripts")
struct TranscriptTests {
    @Test("V1 transcript in one piece")
    func v1Whole() throws {
        let result = play(try v1Session(), cuts: [], numeric: false)
        #expect(result.responses == v1Expected)
        #expect(result.echoes == 2)
    }

    @Test("V0 transcript in one piece")
    func v0Whole() throws {
        let result = play(try v0Session(), cuts: [], numeric: true)
        #expect(result.responses == v0Expected)
        #expect(result.echoes == 6)
    }

    @Test("split at every byte boundary, and at every pair of boundaries in steps")
    func everyBoundary() throws {
        for (session, expected, numeric) in [(try v1Session(), v1Expected, false), (try v0Session(), v0Expected, true)] {
            let total = session.reduce(0) { $0 + $1.reply.count }
            let whole = play(session, cuts: [], numeric: numeric)
            for cut in 1..<total {
                let result = play(session, cuts: [cut], numeric: numeric)
                #expect(result.responses == expected, "cut at \(cut)")
                #expect(result.echoes == whole.echoes, "cut at \(cut)")
            }
            for first in stride(from: 1, to: total, by: 3) {
                for second in stride(from: first + 1, to: total, by: 5) {
                    #expect(play(session, cuts: [first, second], numeric: numeric).responses == expected)
                }
            }
            #expect(play(session, cuts: Array(1..<total), numeric: numeric).responses == expected)
        }
    }

    @Test("several results in one read, with noise bytes")
    func severalInOneRead() {
        var decoder = ResponseDecoder()
        let stream: [UInt8] = [0, 0xFF] + bytes("\r\nNO CARRIER\r\n") + [0x1B, 0] + bytes("\r\nRING\r\n\r\nBUSY\r\n")
            + [0xCF, 0xCB, 0x8D, 0x8A] + bytes("\r\nERROR\r\n")
        #expect(decoder.feed(stream).map(\.response) == [.final(.noCarrier), .ring, .final(.busy), .final(.ok), .final(.error)])
    }

    @Test("a V0 result needs flush when nothing follows")
    func v0Flush() {
        var decoder = ResponseDecoder(parser: ResultParser(numericMode: true))
        #expect(decoder.feed(bytes("3\r")).isEmpty)
        #expect(decoder.hasPendingLine)
        #expect(decoder.flush().map(\.response) == [.final(.noCarrier)])
        #expect(decoder.feed(bytes("NO CARR")).isEmpty)
        #expect(decoder.finish().map(\.response) == [.info("NO CARR")])
    }

    @Test("numeric mode can change between commands")
    func modeChange() {
        var decoder = ResponseDecoder()
        decoder.expectEcho(ATCommand(.verbose(false)))
        #expect(decoder.feed(bytes("ATV0\r\r\nOK\r\n")).map(\.response) == [.echo("ATV0"), .final(.ok)])
        decoder.numericMode = true
        #expect(decoder.parser.numericMode)
        #expect(decoder.feed(bytes("0\r")).isEmpty)
        #expect(decoder.flush().map(\.response) == [.final(.ok)])
        decoder.reset()
        #expect(decoder.framer.bufferedByteCount == 0)
    }

    @Test("driving a collector from the decoder")
    func withCollector() throws {
        var decoder = ResponseDecoder()
        var collector = ResponseCollector()
        decoder.expectEcho(bytes("ATI3\r"))
        var response: CommandResponse?
        for chunk in ["AT", "I3\r\r\nU.S. Rob", "otics\r\n\r\nRING\r\n\r\nO", "K\r\n"] {
            for line in decoder.feed(bytes(chunk)) {
                if let done = collector.accept(line.response) { response = done }
            }
        }
        #expect(response == CommandResponse(final: .ok, info: ["U.S. Robotics"]))
        #expect(collector.ringCount == 1)
    }
}
