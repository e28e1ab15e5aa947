/// Who looks at a connection or a listening line, and how much of it they may see.
///
/// A connection (and a listening line, and the calls it answers) belongs to the uid that
/// dialed it (started it). Its owner and root see everything. Anyone else who may use the
/// daemon's socket sees that it exists and where it is — handle, entry name, device, state,
/// direction, error number — but not its details: the phone number, the phonebook path, the
/// caller ID, the data path, the PPP projection (addresses), the CONNECT details and the
/// error's detail text are left out (see ``RasConnection/redactedForOthers``). Statistics are
/// the owner's only (5).
public enum RasViewer: Sendable, Equatable {
    /// The process itself, or root: sees everything.
    case everything
    /// A client with this uid: sees everything of its own and the outline of the rest.
    case user(UInt32)

    /// The viewer for a client of uid `uid`: root sees everything.
    public init(uid: UInt32) {
        self = uid == 0 ? .everything : .user(uid)
    }

    /// Whether this viewer sees the details of what `owner` owns.
    public func seesDetails(ofOwner owner: UInt32) -> Bool {
        switch self {
        case .everything: true
        case .user(let uid): uid == owner
        }
    }
}

extension RasError {
    /// The same error without its detail text (which may name paths, numbers or users).
    var withoutDetail: RasError { RasError(code: code) }
}

extension RasConnection {
    /// What a user other than the owner may see: the details are left out (phone number
    /// empty; no phonebook path, caller ID or error detail).
    public var redactedForOthers: RasConnection {
        var record = RasConnection(
            handle: handle, entryName: entryName, deviceType: deviceType, deviceName: deviceName,
            phonebookPath: nil, phoneNumber: "", state: state, error: error?.withoutDetail)
        record.direction = direction
        return record
    }
}

extension RasConnStatus {
    /// What a user other than the owner may see: no data path, projection, phone number,
    /// CONNECT details, caller ID or error detail.
    public var redactedForOthers: RasConnStatus {
        var status = self
        status.phoneNumber = ""
        status.connectRate = nil
        status.connectProtocol = nil
        status.connectDetails = nil
        status.dataPath = nil
        status.projection = nil
        status.callerID = nil
        status.error = error?.withoutDetail
        return status
    }
}

extension RasDialNotification {
    /// What a user other than the owner may see: the state and error number, no detail.
    public var redactedForOthers: RasDialNotification {
        RasDialNotification(handle: handle, state: state, error: error?.withoutDetail)
    }
}

extension RasListener {
    /// What a user other than the line's owner may see: no phonebook path, caller or error detail.
    public var redactedForOthers: RasListener {
        RasListener(
            entryName: entryName, phonebookPath: nil, deviceName: deviceName, state: state, rings: rings,
            callsTaken: callsTaken, lastCaller: nil, handle: handle, error: error?.withoutDetail)
    }
}

extension RasListenerEvent {
    /// What a user other than the line's owner may see: no caller ID, reason or error detail.
    public var redactedForOthers: RasListenerEvent {
        RasListenerEvent(
            kind: kind, entryName: entryName, deviceName: deviceName, rings: rings, callerID: nil,
            handle: handle, reason: nil, error: error?.withoutDetail)
    }
}
