import Serial

/// The server side of Telnet option negotiation for an RFC 2217 port: which options each
/// side has on, which requests are still unanswered, and what to send back.
///
/// It follows RFC 854's rule against loops: a request for the state an option is already
/// in is not answered, and the answer to our own request is not acknowledged again. The
/// server offers BINARY and SUPPRESS-GO-AHEAD both ways when a client connects; it accepts
/// BINARY, SUPPRESS-GO-AHEAD and COM-PORT-OPTION both ways and refuses everything else
/// (`WONT`/`DONT`) — ECHO too, since the modem echoes commands itself.
struct TelnetNegotiation: Sendable {
    /// Options the server has on (it said or acknowledged `WILL`).
    private(set) var ours: Set<UInt8> = []
    /// Options the client has on (it said or acknowledged `WILL`).
    private(set) var theirs: Set<UInt8> = []
    private var oursRequested: Set<UInt8> = []
    private var theirsRequested: Set<UInt8> = []

    /// What the server agrees to do and to let the client do.
    static let accepted: Set<UInt8> = [Telnet.Option.binary, Telnet.Option.suppressGoAhead, Telnet.Option.comPort]

    /// The server's opening requests: `WILL`/`DO` BINARY and SUPPRESS-GO-AHEAD.
    mutating func opening() -> [UInt8] {
        var out: [UInt8] = []
        for option in [Telnet.Option.binary, Telnet.Option.suppressGoAhead] {
            oursRequested.insert(option)
            theirsRequested.insert(option)
            out += Telnet.negotiation(.will, option) + Telnet.negotiation(.do, option)
        }
        return out
    }

    /// Takes the client's `IAC verb option`; returns the answer to send (often none).
    mutating func receive(_ verb: Telnet.Verb, _ option: UInt8) -> [UInt8] {
        switch verb {
        case .will:
            guard Self.accepted.contains(option) else { return Telnet.negotiation(.dont, option) }
            let asked = theirsRequested.remove(option) != nil
            guard theirs.insert(option).inserted, !asked else { return [] }
            return Telnet.negotiation(.do, option)
        case .wont:
            let asked = theirsRequested.remove(option) != nil
            guard theirs.remove(option) != nil, !asked else { return [] }
            return Telnet.negotiation(.dont, option)
        case .do:
            guard Self.accepted.contains(option) else { return Telnet.negotiation(.wont, option) }
            let asked = oursRequested.remove(option) != nil
            guard ours.insert(option).inserted, !asked else { return [] }
            return Telnet.negotiation(.will, option)
        case .dont:
            let asked = oursRequested.remove(option) != nil
            guard ours.remove(option) != nil, !asked else { return [] }
            return Telnet.negotiation(.wont, option)
        }
    }

    /// Whether the client sends 8-bit data (it agreed to BINARY): else `CR NUL` means `CR`.
    var clientSendsBinary: Bool { theirs.contains(Telnet.Option.binary) }

    /// Whether the server sends 8-bit data: else a bare `CR` goes out as `CR NUL`.
    var serverSendsBinary: Bool { ours.contains(Telnet.Option.binary) }

    /// Whether COM-PORT-OPTION is on (the client said `WILL`, or agreed to our `DO`).
    var comPortEnabled: Bool { theirs.contains(Telnet.Option.comPort) || ours.contains(Telnet.Option.comPort) }
}
