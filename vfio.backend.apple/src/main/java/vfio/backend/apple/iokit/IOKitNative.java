package vfio.backend.apple.iokit;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;

/**
 * JNA declarations of the IOKit and Mach calls that jna-platform does not declare. Types follow
 * Apple's headers on 64-bit macOS: {@code mach_port_t}, {@code io_connect_t}, {@code task_port_t},
 * {@code kern_return_t}, {@code IOOptionBits}, {@code uint32_t}, {@code boolean_t}, {@code vm_prot_t}
 * are 32-bit ({@code int}); {@code uint64_t}, {@code mach_vm_address_t}, {@code mach_vm_size_t},
 * {@code mach_vm_offset_t} are 64-bit ({@code long}); pointers are {@code Pointer} or JNA by-reference
 * types. Loaded on first use, which happens only on macOS.
 */
final class IOKitNative {
    private IOKitNative() {
    }

    /** {@code IOKit.framework}. */
    interface IOKit extends Library {
        IOKit INSTANCE = Native.load("IOKit", IOKit.class);

        /**
         * IOKit/IOKitLib.h: {@code kern_return_t IOServiceOpen(io_service_t service, task_port_t
         * owningTask, uint32_t type, io_connect_t *connect);}
         */
        int IOServiceOpen(int service, int owningTask, int type, IntByReference connect);

        /** IOKit/IOKitLib.h: {@code kern_return_t IOServiceClose(io_connect_t connect);} */
        int IOServiceClose(int connect);

        /**
         * IOKit/IOKitLib.h: {@code kern_return_t IOConnectCallScalarMethod(mach_port_t connection,
         * uint32_t selector, const uint64_t *input, uint32_t inputCnt, uint64_t *output, uint32_t
         * *outputCnt);}
         */
        int IOConnectCallScalarMethod(int connection, int selector, long[] input, int inputCnt, long[] output,
                IntByReference outputCnt);

        /**
         * IOKit/IOKitLib.h: {@code kern_return_t IOConnectCallAsyncScalarMethod(mach_port_t connection,
         * uint32_t selector, mach_port_t wake_port, uint64_t *reference, uint32_t referenceCnt, const
         * uint64_t *input, uint32_t inputCnt, uint64_t *output, uint32_t *outputCnt);}
         */
        int IOConnectCallAsyncScalarMethod(int connection, int selector, int wakePort, long[] reference, int referenceCnt,
                long[] input, int inputCnt, long[] output, IntByReference outputCnt);

        /**
         * IOKit/IOKitLib.h: {@code kern_return_t IOConnectMapMemory64(io_connect_t connect, uint32_t
         * memoryType, task_port_t intoTask, mach_vm_address_t *atAddress, mach_vm_size_t *ofSize,
         * IOOptionBits options);}
         */
        int IOConnectMapMemory64(int connect, int memoryType, int intoTask, LongByReference atAddress,
                LongByReference ofSize, int options);

        /**
         * IOKit/IOKitLib.h: {@code kern_return_t IOConnectUnmapMemory64(io_connect_t connect, uint32_t
         * memoryType, task_port_t fromTask, mach_vm_address_t atAddress);}
         */
        int IOConnectUnmapMemory64(int connect, int memoryType, int fromTask, long atAddress);

        /** IOKit/IOKitLib.h: {@code IONotificationPortRef IONotificationPortCreate(mach_port_t mainPort);} */
        Pointer IONotificationPortCreate(int mainPort);

        /** IOKit/IOKitLib.h: {@code void IONotificationPortDestroy(IONotificationPortRef notify);} */
        void IONotificationPortDestroy(Pointer notify);

        /** IOKit/IOKitLib.h: {@code mach_port_t IONotificationPortGetMachPort(IONotificationPortRef notify);} */
        int IONotificationPortGetMachPort(Pointer notify);
    }

    /** {@code libSystem} (Mach and POSIX parts). */
    interface Mach extends Library {
        Mach INSTANCE = Native.load("System", Mach.class);

        /** mach/mach_init.h: {@code mach_port_t mach_task_self(void);} (the function behind the macro) */
        int mach_task_self();

        /**
         * mach/message.h: {@code mach_msg_return_t mach_msg(mach_msg_header_t *msg, mach_msg_option_t
         * option, mach_msg_size_t send_size, mach_msg_size_t rcv_size, mach_port_name_t rcv_name,
         * mach_msg_timeout_t timeout, mach_port_name_t notify);}
         */
        int mach_msg(Pointer msg, int option, int sendSize, int rcvSize, int rcvName, int timeout, int notify);

        /** mach/message.h: {@code void mach_msg_destroy(mach_msg_header_t *msg);} */
        void mach_msg_destroy(Pointer msg);

        /**
         * mach/mach_vm.h: {@code kern_return_t mach_vm_remap(vm_map_t target_task, mach_vm_address_t
         * *target_address, mach_vm_size_t size, mach_vm_offset_t mask, int flags, vm_map_t src_task,
         * mach_vm_address_t src_address, boolean_t copy, vm_prot_t *cur_protection, vm_prot_t
         * *max_protection, vm_inherit_t inheritance);}
         */
        int mach_vm_remap(int targetTask, LongByReference targetAddress, long size, long mask, int flags, int srcTask,
                long srcAddress, int copy, IntByReference curProtection, IntByReference maxProtection, int inheritance);

        /**
         * mach/mach_vm.h: {@code kern_return_t mach_vm_deallocate(vm_map_t target, mach_vm_address_t
         * address, mach_vm_size_t size);}
         */
        int mach_vm_deallocate(int target, long address, long size);

        /** unistd.h: {@code int getpagesize(void);} */
        int getpagesize();
    }

    // IOKit/IOTypes.h
    static final int K_IO_MAP_ANYWHERE = 0x00000001;
    static final int K_IO_MAP_WRITE_COMBINE_CACHE = 0x00000400;
    // IOKit/IOKitLib.h: kIOMainPortDefault (the same as MACH_PORT_NULL)
    static final int K_IO_MAIN_PORT_DEFAULT = 0;
    // IOKit/OSMessageNotification.h: kIOAsyncCalloutCount (reserved port slot, callout, refcon)
    static final int K_IO_ASYNC_CALLOUT_COUNT = 3;
    // mach/message.h
    static final int MACH_SEND_MSG = 0x00000001;
    static final int MACH_RCV_MSG = 0x00000002;
    static final int MACH_SEND_TIMEOUT = 0x00000010;
    static final int MACH_RCV_TIMEOUT = 0x00000100;
    static final int MACH_MSG_TYPE_MAKE_SEND = 20;
    static final int MACH_RCV_TIMED_OUT = 0x10004003;
    static final int MACH_RCV_TOO_LARGE = 0x10004004;
    static final int MACH_RCV_INTERRUPTED = 0x10004005;
    /** sizeof(mach_msg_header_t): bits, size, remote, local, voucher, id (six 32-bit fields). */
    static final int MACH_MSG_HEADER_SIZE = 24;
    static final int MACH_MSG_HEADER_ID_OFFSET = 20;
    // mach/vm_statistics.h, mach/vm_prot.h, mach/vm_inherit.h
    static final int VM_FLAGS_ANYWHERE = 0x0001;
    static final int VM_PROT_READ = 0x01;
    static final int VM_PROT_WRITE = 0x02;
    static final int VM_INHERIT_NONE = 2;
}
