package vfio.core.shell;

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
 * An in-memory ConfigurationAdmin with just what the shell uses (factory configurations by name,
 * list by filter, update, delete), built on dynamic proxies: a fake for a unit test of the
 * commands' logic, not a ConfigAdmin implementation.
 */
final class FakeConfigAdmin {
    final Map<String, Hashtable<String, Object>> configs = new LinkedHashMap<>();

    ConfigurationAdmin admin() {
        return (ConfigurationAdmin) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ConfigurationAdmin.class}, (p, m, args) -> switch (m.getName()) {
                    case "getFactoryConfiguration" -> configuration((String) args[0] + "~" + args[1], (String) args[0]);
                    case "listConfigurations" -> list((String) args[0]);
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    private Configuration[] list(String filter) throws Exception {
        Filter f = FrameworkUtil.createFilter(filter);
        List<Configuration> out = new ArrayList<>();
        for (Map.Entry<String, Hashtable<String, Object>> e : configs.entrySet()) {
            if (f.matches(e.getValue())) {
                out.add(configuration(e.getKey(), (String) e.getValue().get(ConfigurationAdmin.SERVICE_FACTORYPID)));
            }
        }
        return out.isEmpty() ? null : out.toArray(new Configuration[0]);
    }

    private Configuration configuration(String pid, String factoryPid) {
        return (Configuration) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Configuration.class},
                (p, m, args) -> switch (m.getName()) {
                    case "getPid" -> pid;
                    case "getProperties" -> configs.containsKey(pid) ? new Hashtable<>(configs.get(pid)) : null;
                    case "update" -> {
                        @SuppressWarnings("unchecked")
                        Dictionary<String, Object> d = (Dictionary<String, Object>) args[0];
                        Hashtable<String, Object> h = new Hashtable<>();
                        for (var k = d.keys(); k.hasMoreElements(); ) {
                            String key = k.nextElement();
                            h.put(key, d.get(key));
                        }
                        h.put("service.pid", pid);
                        h.put(ConfigurationAdmin.SERVICE_FACTORYPID, factoryPid);
                        configs.put(pid, h);
                        yield null;
                    }
                    case "delete" -> {
                        configs.remove(pid);
                        yield null;
                    }
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }
}
