// Peer worker on the official Java SDK (org.conductoross:conductor-client): TaskRunnerConfigurer with one Worker
// per task type, whose execute() does the task's HTTP call with java.net.http, the way a user of the SDK would.
//
// Environment: CONDUCTOR_SERVER_URL, BENCH_TASK_TYPES (comma-separated), BENCH_CONCURRENCY (thread count per task
// type), BENCH_MODE (hold: an HTTP_POLL task sleeps between polls inside execute(); park: one poll per delivery,
// then IN_PROGRESS with callbackAfterSeconds = the interval rounded up). update-v2 is enabled with the SDK's own
// switch, -DtaskUpdateV2=true (set by the driver). The termination condition is evaluated natively.

import com.fasterxml.jackson.databind.ObjectMapper;
import com.netflix.conductor.client.automator.TaskRunnerConfigurer;
import com.netflix.conductor.client.http.ConductorClient;
import com.netflix.conductor.client.http.ConnectionPoolConfig;
import com.netflix.conductor.client.http.TaskClient;
import com.netflix.conductor.client.worker.Worker;
import com.netflix.conductor.common.metadata.tasks.Task;
import com.netflix.conductor.common.metadata.tasks.TaskResult;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

public class BenchWorker implements Worker {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private final String taskType;
    private final boolean park;

    BenchWorker(String taskType, boolean park) {
        this.taskType = taskType;
        this.park = park;
    }

    @Override
    public String getTaskDefName() {
        return taskType;
    }

    @Override
    public int getPollingInterval() {
        return 1; // ms; the lowest that does not spin (the runner sleeps this long after an empty or full poll)
    }

    record Reply(int status, Object body) {}

    private static Reply call(String uri) throws Exception {
        HttpResponse<byte[]> response =
                HTTP.send(HttpRequest.newBuilder(URI.create(uri)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
        Object body;
        try {
            body = JSON.readValue(response.body(), Object.class);
        } catch (Exception e) {
            body = new String(response.body());
        }
        return new Reply(response.statusCode(), body);
    }

    private static boolean done(Object body) {
        return body instanceof Map<?, ?> map && "DONE".equals(map.get("state"));
    }

    private static Map<String, Object> response(Reply reply) {
        Map<String, Object> response = new HashMap<>();
        response.put("statusCode", reply.status());
        response.put("body", reply.body());
        return response;
    }

    @Override
    public TaskResult execute(Task task) {
        TaskResult result = new TaskResult(task);
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> request = (Map<String, Object>) task.getInputData().get("http_request");
            String uri = (String) request.get("uri");
            if (!request.containsKey("terminationCondition")) {
                result.addOutputData("response", response(call(uri)));
                result.setStatus(TaskResult.Status.COMPLETED);
                return result;
            }
            double interval = Double.parseDouble(String.valueOf(request.getOrDefault("pollingInterval", "60")));
            if (park) {
                Reply reply = call(uri);
                int polls = task.getPollCount();
                result.addOutputData("pollCount", polls);
                if (done(reply.body())) {
                    result.addOutputData("response", response(reply));
                    result.setStatus(TaskResult.Status.COMPLETED);
                } else {
                    result.setStatus(TaskResult.Status.IN_PROGRESS);
                    result.setCallbackAfterSeconds((long) Math.ceil(interval));
                }
                return result;
            }
            int polls = 0;
            while (true) {
                polls++;
                Reply reply = call(uri);
                if (done(reply.body())) {
                    result.addOutputData("response", response(reply));
                    result.addOutputData("pollCount", polls);
                    result.setStatus(TaskResult.Status.COMPLETED);
                    return result;
                }
                Thread.sleep((long) (interval * 1000));
            }
        } catch (Exception e) {
            result.setStatus(TaskResult.Status.FAILED);
            result.setReasonForIncompletion(e.toString());
            return result;
        }
    }

    public static void main(String[] args) throws Exception {
        String url = System.getenv().getOrDefault("CONDUCTOR_SERVER_URL", "http://127.0.0.1:8080/api");
        int concurrency = Integer.parseInt(System.getenv().getOrDefault("BENCH_CONCURRENCY", "100"));
        boolean park = "park".equals(System.getenv("BENCH_MODE"));
        List<Worker> workers = new ArrayList<>();
        for (String type : System.getenv().getOrDefault("BENCH_TASK_TYPES", "bench_http").split(",")) {
            workers.add(new BenchWorker(type, park));
        }
        ConductorClient client = ConductorClient.builder()
                .basePath(url)
                // OkHttp keeps 5 idle connections by default; with `concurrency` threads updating at once that
                // would open and close connections all the time.
                .connectionPoolConfig(new ConnectionPoolConfig(concurrency + 8, 5, TimeUnit.MINUTES))
                .build();
        TaskRunnerConfigurer configurer = new TaskRunnerConfigurer.Builder(new TaskClient(client), workers)
                .withThreadCount(concurrency)
                .build();
        configurer.init();
        Runtime.getRuntime().addShutdownHook(new Thread(configurer::shutdown));
        Thread.currentThread().join();
    }
}
