namespace Softswitch.Datapath.Ports;

/// <summary>One receive queue a forwarding thread polls: a port's slot and the provider that receives for it (the
/// port itself, or one of the receivers it split its traffic into).</summary>
public sealed record RxQueue(PortSlot Slot, IPort Receiver);
