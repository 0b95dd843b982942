import RumorCrypto

/// memberlist encryption for the runtime. The type lives in RumorCrypto (so its tests need no NIO); its typed-throws
/// methods satisfy the protocol as they are.
extension MemberlistSecurity: PacketSecurity {}
