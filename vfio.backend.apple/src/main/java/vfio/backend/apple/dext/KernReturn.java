package vfio.backend.apple.dext;

import java.util.Map;

/**
 * {@code kern_return_t} / {@code IOReturn} values the dext and IOKit return, with their names.
 * Values from Apple's {@code IOKit/IOReturn.h} ({@code iokit_common_err(x) = 0xe0000000 | x}) and
 * {@code mach/kern_return.h}, {@code mach/message.h}.
 */
public final class KernReturn {
    public static final int SUCCESS = 0;
    public static final int KERN_INVALID_ADDRESS = 1;
    public static final int KERN_NO_SPACE = 3;
    public static final int KERN_INVALID_ARGUMENT = 4;
    public static final int KERN_FAILURE = 5;
    public static final int KERN_RESOURCE_SHORTAGE = 6;
    public static final int ERROR = 0xe00002bc;
    public static final int NO_MEMORY = 0xe00002bd;
    public static final int NO_RESOURCES = 0xe00002be;
    public static final int IPC_ERROR = 0xe00002bf;
    public static final int NO_DEVICE = 0xe00002c0;
    public static final int NOT_PRIVILEGED = 0xe00002c1;
    public static final int BAD_ARGUMENT = 0xe00002c2;
    public static final int EXCLUSIVE_ACCESS = 0xe00002c5;
    public static final int UNSUPPORTED = 0xe00002c7;
    public static final int VM_ERROR = 0xe00002c8;
    public static final int INTERNAL_ERROR = 0xe00002c9;
    public static final int IO_ERROR = 0xe00002ca;
    public static final int NOT_OPEN = 0xe00002cd;
    public static final int NOT_READABLE = 0xe00002ce;
    public static final int NOT_WRITABLE = 0xe00002cf;
    public static final int NOT_ALIGNED = 0xe00002d0;
    public static final int DMA_ERROR = 0xe00002d4;
    public static final int BUSY = 0xe00002d5;
    public static final int TIMEOUT = 0xe00002d6;
    public static final int OFFLINE = 0xe00002d7;
    public static final int NOT_READY = 0xe00002d8;
    public static final int NOT_ATTACHED = 0xe00002d9;
    public static final int NO_SPACE = 0xe00002db;
    public static final int NOT_PERMITTED = 0xe00002e2;
    public static final int DEVICE_ERROR = 0xe00002e9;
    public static final int ABORTED = 0xe00002eb;
    public static final int NOT_RESPONDING = 0xe00002ed;
    public static final int NOT_FOUND = 0xe00002f0;
    /** {@code MACH_SEND_INVALID_DEST}: the port of the user client is dead (the dext went away). */
    public static final int MACH_SEND_INVALID_DEST = 0x10000003;
    /** {@code MIG_SERVER_DIED}. */
    public static final int MIG_SERVER_DIED = -308;

    private static final Map<Integer, String> NAMES = Map.ofEntries(
            Map.entry(SUCCESS, "KERN_SUCCESS"),
            Map.entry(KERN_INVALID_ADDRESS, "KERN_INVALID_ADDRESS"),
            Map.entry(KERN_NO_SPACE, "KERN_NO_SPACE"),
            Map.entry(KERN_INVALID_ARGUMENT, "KERN_INVALID_ARGUMENT"),
            Map.entry(KERN_FAILURE, "KERN_FAILURE"),
            Map.entry(KERN_RESOURCE_SHORTAGE, "KERN_RESOURCE_SHORTAGE"),
            Map.entry(ERROR, "kIOReturnError"),
            Map.entry(NO_MEMORY, "kIOReturnNoMemory"),
            Map.entry(NO_RESOURCES, "kIOReturnNoResources"),
            Map.entry(IPC_ERROR, "kIOReturnIPCError"),
            Map.entry(NO_DEVICE, "kIOReturnNoDevice"),
            Map.entry(NOT_PRIVILEGED, "kIOReturnNotPrivileged"),
            Map.entry(BAD_ARGUMENT, "kIOReturnBadArgument"),
            Map.entry(EXCLUSIVE_ACCESS, "kIOReturnExclusiveAccess"),
            Map.entry(UNSUPPORTED, "kIOReturnUnsupported"),
            Map.entry(VM_ERROR, "kIOReturnVMError"),
            Map.entry(INTERNAL_ERROR, "kIOReturnInternalError"),
            Map.entry(IO_ERROR, "kIOReturnIOError"),
            Map.entry(NOT_OPEN, "kIOReturnNotOpen"),
            Map.entry(NOT_READABLE, "kIOReturnNotReadable"),
            Map.entry(NOT_WRITABLE, "kIOReturnNotWritable"),
            Map.entry(NOT_ALIGNED, "kIOReturnNotAligned"),
            Map.entry(DMA_ERROR, "kIOReturnDMAError"),
            Map.entry(BUSY, "kIOReturnBusy"),
            Map.entry(TIMEOUT, "kIOReturnTimeout"),
            Map.entry(OFFLINE, "kIOReturnOffline"),
            Map.entry(NOT_READY, "kIOReturnNotReady"),
            Map.entry(NOT_ATTACHED, "kIOReturnNotAttached"),
            Map.entry(NO_SPACE, "kIOReturnNoSpace"),
            Map.entry(NOT_PERMITTED, "kIOReturnNotPermitted"),
            Map.entry(DEVICE_ERROR, "kIOReturnDeviceError"),
            Map.entry(ABORTED, "kIOReturnAborted"),
            Map.entry(NOT_RESPONDING, "kIOReturnNotResponding"),
            Map.entry(NOT_FOUND, "kIOReturnNotFound"),
            Map.entry(MACH_SEND_INVALID_DEST, "MACH_SEND_INVALID_DEST"),
            Map.entry(MIG_SERVER_DIED, "MIG_SERVER_DIED"));

    private KernReturn() {
    }

    /** @return the symbolic name and hex value, e.g. {@code kIOReturnBusy (0xe00002d5)} */
    public static String describe(int kr) {
        String name = NAMES.get(kr);
        String hex = "0x" + Integer.toHexString(kr);
        return name != null ? name + " (" + hex + ")" : "kern_return " + hex;
    }

    /**
     * @return whether {@code kr} means the dext or its device is gone (the user client port died, the
     *         dext stopped answering or was terminated), as opposed to refusing one request
     */
    public static boolean meansGone(int kr) {
        return kr == NOT_RESPONDING || kr == NO_DEVICE || kr == NOT_ATTACHED || kr == OFFLINE || kr == ABORTED
                || kr == NOT_OPEN || kr == IPC_ERROR || kr == MACH_SEND_INVALID_DEST || kr == MIG_SERVER_DIED;
    }
}
