package vfio.emulator.edu.internal;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.osgi.framework.Filter;
import org.osgi.framework.FrameworkUtil;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * A fake ConfigurationAdmin for unit tests of configuration logic: an in-memory store supporting
 * the calls the embedded default makes (getFactoryConfiguration, listConfigurations with a real
 * OSGi filter, update, delete, getProperties). Other calls throw.
 */
final class InMemoryConfigurationAdmin {
    final Map<String, Dictionary<String, Object>> store = new LinkedHashMap<>();
    final ConfigurationAdmin admin = proxy(ConfigurationAdmin.class, this::admin);

    /** Adds a factory configuration as an operator would. */
    void put(String factoryPid, String name, Map<String, Object> props) {
        Hashtable<String, Object> d = new Hashtable<>(props);
        String pid = factoryPid + "~" + name;
        d.put("service.pid", pid);
        d.put("service.factoryPid", factoryPid);
        store.put(pid, d);
    }

    private Object admin(Method m, Object[] args) throws Exception {
        switch (m.getName()) {
            case "getFactoryConfiguration":
                return configuration((String) args[0] + "~" + args[1], (String) args[0]);
            case "listConfigurations":
                Filter f = FrameworkUtil.createFilter((String) args[0]);
                List<Configuration> out = new ArrayList<>();
                for (Map.Entry<String, Dictionary<String, Object>> e : store.entrySet()) {
                    if (f.match(e.getValue())) {
                        out.add(configuration(e.getKey(), (String) e.getValue().get("service.factoryPid")));
                    }
                }
                return out.isEmpty() ? null : out.toArray(new Configuration[0]);
            default:
                throw new UnsupportedOperationException(m.getName());
        }
    }

    private Configuration configuration(String pid, String factoryPid) {
        return proxy(Configuration.class, (m, args) -> {
            switch (m.getName()) {
                case "getPid":
                    return pid;
                case "getFactoryPid":
                    return factoryPid;
                case "getProperties":
                    return store.get(pid);
                case "update":
                    @SuppressWarnings("unchecked") Hashtable<String, Object> d = new Hashtable<>();
                    Dictionary<String, Object> in = (Dictionary<String, Object>) args[0];
                    for (var keys = in.keys(); keys.hasMoreElements();) {
                        String k = keys.nextElement();
                        d.put(k, in.get(k));
                    }
                    d.put("service.pid", pid);
                    d.put("service.factoryPid", factoryPid);
                    store.put(pid, d);
                    return null;
                case "delete":
                    store.remove(pid);
                    return null;
                case "toString":
                    return "Configuration[" + pid + "]";
                case "hashCode":
                    return pid.hashCode();
                case "equals":
                    return args[0] == this;
                default:
                    throw new UnsupportedOperationException(m.getName());
            }
        });
    }

    interface Handler {
        Object handle(Method m, Object[] args) throws Exception;
    }

    private static <T> T proxy(Class<T> type, Handler h) {
        InvocationHandler ih = (p, m, args) -> h.handle(m, args);
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, ih));
    }
}
