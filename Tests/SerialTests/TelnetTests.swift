import Serial
import Testing

@Suite("Telnet and RFC 2217 codec: escaping, negotiation, subnegotiation, in any pieces")
struct TelnetTests {
    @Test func dataIsEscapedAndUnescaped() {
        let data: [UInt8] = [0x41, 0xFF, 0x0D, 0x00, 0xFF, 0xFF, 0x42]
        let wire = Telnet.escape(data)
        #expect(wire == [0x41, 0xFF, 0xFF, 0x0D, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x42])
        var decoder = Telnet.Decoder()
        #expect(decoder.decode(wire) == [.data(data)])
        // Outside BINARY a bare CR travels as CR NUL and comes back as CR.
        #expect(Telnet.escape([0x0D, 0x41], binary: false) == [0x0D, 0x00, 0x41])
        var nvt = Telnet.Decoder(binary: false)
        #expect(nvt.decode([0x0D, 0x00, 0x41, 0x0D, 0x0A]) == [.data([0x0D, 0x41, 0x0D, 0x0A])])
    }

    @Test func everySplitOfAStreamDecodesTheSame() {
        let stream: [UInt8] = [0x41] + Telnet.negotiation(.will, 44) + [0xFF, 0xFF]
            + ComPort.Message(.setBaudRate, fromServer: true, value: ComPort.bytes(of: 0x0000_FF00 | 0xFF)).encoded
            + [0xFF, 241] + [0x42]
        var whole = Telnet.Decoder()
        let expected = whole.decode(stream)
        #expect(expected == [
            .data([0x41]), .negotiation(.will, 44), .data([0xFF]),
            .subnegotiation(44, [101, 0x00, 0x00, 0xFF, 0xFF]), .command(241), .data([0x42]),
        ])
        for cut in 1..<stream.count {
            var decoder = Telnet.Decoder()
            let events = decoder.decode(stream[..<cut]) + decoder.decode(stream[cut...])
            // Data runs may be split at the cut; join them before comparing.
            var joined: [Telnet.Event] = []
            for event in events {
                if case .data(let more) = event, case .data(let before)? = joined.last {
                    joined[joined.count - 1] = .data(before + more)
                } else {
                    joined.append(event)
                }
            }
            #expect(joined == expected, "cut at \(cut)")
        }
    }

    @Test func comPortMessagesRoundTrip() throws {
        let message = ComPort.Message(.setBaudRate, fromServer: false, value: ComPort.bytes(of: 115_200))
        var decoder = Telnet.Decoder()
        let events = decoder.decode(message.encoded)
        guard case .subnegotiation(let option, let payload) = try #require(events.first) else {
            Issue.record("not a subnegotiation: \(events)")
            return
        }
        #expect(option == Telnet.Option.comPort)
        let decoded = try #require(ComPort.Message(payload: payload))
        #expect(decoded == message && decoded.number == 115_200)
        #expect(ComPort.Message(payload: [107, 0xB0])?.fromServer == true)
        #expect(ComPort.Message(payload: [99]) == nil)
        #expect(ComPort.modemLines(state: 0xB0) == [.dcd, .dsr, .cts])
        #expect(ComPort.modemState([.dcd, .cts], previous: [.cts]) == 0x90 | 0x08)
        for parity in Parity.allCases { #expect(ComPort.parity(code: ComPort.code(of: parity)) == parity) }
    }

    @Test func anOversizedSubnegotiationIsReportedNotKept() {
        var decoder = Telnet.Decoder(maxSubnegotiation: 8)
        let events = decoder.decode([0xFF, 250, 44] + [UInt8](repeating: 7, count: 100) + [0xFF, 240, 0x41])
        #expect(events == [.oversizedSubnegotiation, .data([0x41])])
    }

    @Test func networkAddressesAreCheckedAndSpelledOneWay() throws {
        let address = try NetworkPortAddress("RFC2217://127.0.0.1:2001")
        #expect(address.transport == .rfc2217 && address.host == "127.0.0.1" && address.port == 2001)
        #expect(address.description == "rfc2217://127.0.0.1:2001")
        let v6 = try NetworkPortAddress("tcp://[::1]:23")
        #expect(v6.host == "::1" && v6.description == "tcp://[::1]:23")
        #expect(NetworkPortAddress.isNetworkAddress("tcp://x") && !NetworkPortAddress.isNetworkAddress("/dev/ttyS0"))
        let bad = [
            "rfc2217://host", "rfc2217://host:0", "rfc2217://host:65536", "rfc2217://:2000", "tcp://::1:23",
            "tcp://host:23/path", "rfc2217://user@host:1", "tcp://ho st:1", "tcp://[::1:23", "tcp://host:2x",
        ]
        for text in bad {
            #expect(NetworkPortAddress.problem(text) != nil, "\(text)")
            #expect(throws: SerialError.self, "\(text)") { try NetworkPortAddress(text) }
        }
    }
}
