# Erlang/OTP figures for the same shapes sessionvisor measures, printed as one JSON line so
# bench/run.ts can put them beside ours. Usage: elixir bench/otp/bench.exs [core] [session]

defmodule B do
  def now, do: System.monotonic_time(:nanosecond)

  def pct(sorted, p) do
    n = length(sorted)
    idx = min(n - 1, max(0, ceil(p / 100 * n) - 1))
    Enum.at(sorted, idx)
  end

  def lat_us(samples_ns) do
    sorted = Enum.sort(samples_ns)
    {pct(sorted, 50) / 1000, pct(sorted, 99) / 1000}
  end

  def rate(n, fun) do
    t0 = now()
    fun.()
    n / ((now() - t0) / 1.0e9)
  end
end

defmodule Idle do
  use GenServer
  def init(s), do: {:ok, s}
  def handle_call(:ping, _from, s), do: {:reply, :pong, s}
  def handle_cast(:inc, s), do: {:noreply, s + 1}
end

defmodule Ready do
  use GenServer
  def start_link(bench), do: GenServer.start_link(__MODULE__, bench)

  def init(bench) do
    send(bench, {:ready, self(), System.monotonic_time(:nanosecond)})
    {:ok, bench}
  end

  def handle_call(:ping, _from, s), do: {:reply, :pong, s}
end

defmodule Agent2 do
  use GenServer

  def start_link({key, bench}) do
    GenServer.start_link(__MODULE__, {key, bench}, name: {:via, Registry, {SessReg, key}})
  end

  def init({key, bench}) do
    if bench != nil and String.starts_with?(key, "llm_orchestrator:"), do: send(bench, {:ready, self(), System.monotonic_time(:nanosecond)})
    {:ok, []}
  end

  def handle_call({:echo, v}, _from, s), do: {:reply, v, s}
end

defmodule SessionSup do
  use Supervisor

  def start_link({id, bench}) do
    Supervisor.start_link(__MODULE__, {id, bench}, name: {:via, Registry, {SessReg, "session_supervisor:" <> id}})
  end

  def init({id, bench}) do
    children = [
      %{id: :context_manager, start: {Agent2, :start_link, [{"context_manager:" <> id, nil}]}},
      %{id: :llm_orchestrator, start: {Agent2, :start_link, [{"llm_orchestrator:" <> id, bench}]}}
    ]

    Supervisor.init(children, strategy: :one_for_one)
  end
end

defmodule Core do
  def run do
    # spawn rate
    for _ <- 1..2000, do: GenServer.start(Idle, 0)
    n = 20_000
    {:ok, holder} = Agent.start(fn -> [] end)

    spawn_rate =
      B.rate(n, fn ->
        for _ <- 1..n do
          {:ok, pid} = GenServer.start(Idle, 0)
          Agent.cast(holder, fn l -> [pid | l] end)
        end
      end)

    for pid <- Agent.get(holder, & &1), do: GenServer.stop(pid)

    # call latency
    {:ok, echo} = GenServer.start(Idle, 0)
    for _ <- 1..20_000, do: GenServer.call(echo, :ping)

    call_samples =
      for _ <- 1..100_000 do
        t0 = B.now()
        GenServer.call(echo, :ping)
        B.now() - t0
      end

    {call_med, call_p99} = B.lat_us(call_samples)

    # cast throughput
    {:ok, counter} = GenServer.start(Idle, 0)
    casts = 1_000_000

    cast_rate =
      B.rate(casts, fn ->
        for _ <- 1..casts, do: GenServer.cast(counter, :inc)
        GenServer.call(counter, :ping)
      end)

    # registry lookups
    {:ok, _} = Registry.start_link(keys: :unique, name: CoreReg)
    parent = self()

    keys =
      for i <- 1..10_000 do
        key = "worker:#{i}"
        spawn(fn ->
          Registry.register(CoreReg, key, nil)
          send(parent, :registered)
          receive do
            :stop -> :ok
          end
        end)
        key
      end

    for _ <- 1..10_000, do: receive(do: (:registered -> :ok))
    keyt = List.to_tuple(keys)
    lookups = 1_000_000

    lookup_rate =
      B.rate(lookups, fn ->
        Enum.each(0..(lookups - 1), fn i -> [{_, _}] = Registry.lookup(CoreReg, elem(keyt, rem(i, 10_000))) end)
      end)

    # crash -> replacement ready
    bench = self()

    {:ok, _sup} =
      Supervisor.start_link([%{id: :child, start: {Ready, :start_link, [bench]}}],
        strategy: :one_for_one,
        max_restarts: 1_000_000,
        max_seconds: 1
      )

    first = receive(do: ({:ready, pid, _} -> pid))

    {_, samples} =
      Enum.reduce(1..1100, {first, []}, fn i, {child, acc} ->
        t0 = B.now()
        Process.exit(child, :kill)
        {next, at} = receive(do: ({:ready, pid, at} -> {pid, at}))
        {next, if(i > 100, do: [at - t0 | acc], else: acc)}
      end)

    {restart_med, restart_p99} = B.lat_us(samples)

    # bytes per idle process
    :erlang.garbage_collect()
    before = :erlang.memory(:processes)
    idle = for _ <- 1..10_000, do: elem(GenServer.start(Idle, 0), 1)
    for p <- idle, do: :erlang.garbage_collect(p)
    after_ = :erlang.memory(:processes)
    mems = idle |> Enum.map(fn p -> elem(Process.info(p, :memory), 1) end) |> Enum.sort()

    %{
      spawnPerSec: spawn_rate,
      callMedianUs: call_med,
      callP99Us: call_p99,
      castPerSec: cast_rate,
      registryLookupsPerSec: lookup_rate,
      restartMedianUs: restart_med,
      restartP99Us: restart_p99,
      bytesPerIdleProcess: (after_ - before) / 10_000,
      processInfoMemoryBytes: B.pct(mems, 50)
    }
  end
end

defmodule Session do
  def run do
    {:ok, _} = Registry.start_link(keys: :unique, name: SessReg)
    bench = self()
    {:ok, dyn} = DynamicSupervisor.start_link(strategy: :one_for_one, max_restarts: 1_000_000, max_seconds: 1)
    :erlang.garbage_collect()
    mem0 = :erlang.memory()
    n = 10_000
    ids = for i <- 1..n, do: "s#{i}"

    create_rate =
      B.rate(n, fn ->
        for id <- ids do
          {:ok, _} = DynamicSupervisor.start_child(dyn, %{id: id, start: {SessionSup, :start_link, [{id, bench}]}, type: :supervisor})
        end
      end)

    # drain the ready messages of the initial starts
    for _ <- 1..n, do: receive(do: ({:ready, _, _} -> :ok))
    for {_, pid, _, _} <- DynamicSupervisor.which_children(dyn), do: :erlang.garbage_collect(pid)
    :erlang.garbage_collect()
    mem1 = :erlang.memory()
    total = (mem1[:total] - mem0[:total]) / n
    procs = (mem1[:processes] + mem1[:ets] - mem0[:processes] - mem0[:ets]) / n

    # call via registry name
    via = {:via, Registry, {SessReg, "llm_orchestrator:s1"}}
    for _ <- 1..5_000, do: GenServer.call(via, {:echo, 1})

    call_samples =
      for _ <- 1..50_000 do
        t0 = B.now()
        GenServer.call(via, {:echo, 1})
        B.now() - t0
      end

    {call_med, call_p99} = B.lat_us(call_samples)

    # killed session supervisor back with both children
    kill_samples =
      for i <- 1..1_100 do
        id = "s#{rem(i, n) + 1}"
        [{sup, _}] = Registry.lookup(SessReg, "session_supervisor:" <> id)
        t0 = B.now()
        Process.exit(sup, :kill)
        at = receive(do: ({:ready, _, at} -> at))
        if i > 100, do: at - t0, else: nil
      end
      |> Enum.reject(&is_nil/1)

    {kill_med, kill_p99} = B.lat_us(kill_samples)

    t0 = B.now()
    Process.unlink(dyn)
    ref = Process.monitor(dyn)
    Process.exit(dyn, :shutdown)
    receive(do: ({:DOWN, ^ref, _, _, _} -> :ok))
    stop_ms = (B.now() - t0) / 1.0e6

    %{
      sessionCreatePerSec: create_rate,
      bytesPerSessionTotal: total,
      bytesPerSessionProcesses: procs,
      sessionCallMedianUs: call_med,
      sessionCallP99Us: call_p99,
      sessionKillBackMedianUs: kill_med,
      sessionKillBackP99Us: kill_p99,
      stop10kSessionsMs: stop_ms
    }
  end
end

defmodule Json do
  def encode(m) when is_map(m), do: "{" <> Enum.map_join(m, ",", fn {k, v} -> encode(to_string(k)) <> ":" <> encode(v) end) <> "}"
  def encode(s) when is_binary(s), do: "\"" <> String.replace(s, "\"", "\\\"") <> "\""
  def encode(n) when is_integer(n), do: Integer.to_string(n)
  def encode(n) when is_float(n), do: :erlang.float_to_binary(n, [:compact, decimals: 4])
end

suites = if System.argv() == [], do: ["core", "session"], else: System.argv()

results =
  for suite <- suites, into: %{} do
    case suite do
      "core" -> {"core", Core.run()}
      "session" -> {"session", Session.run()}
      other -> {other, %{}}
    end
  end

IO.puts(Json.encode(%{otp: System.otp_release(), elixir: System.version(), suites: results}))
