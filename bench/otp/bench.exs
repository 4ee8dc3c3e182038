# Erlang/OTP figures for the same shapes sessionvisor measures, printed as one JSON line so
# bench/run.ts can put them beside ours. Usage: elixir bench/otp/bench.exs [core] [session] [create] [turn]

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
  def start_sessions(sup, ids, bench) do
    for id <- ids do
      {:ok, _} = DynamicSupervisor.start_child(sup, %{id: id, start: {SessionSup, :start_link, [{id, bench}]}, type: :supervisor})
    end
  end

  def run do
    {:ok, _} = Registry.start_link(keys: :unique, name: SessReg)
    bench = self()
    # Warm-up as on sessionvisor's side: 5,000 starts under a supervisor stopped before measuring.
    {:ok, warm} = DynamicSupervisor.start_link(strategy: :one_for_one, max_restarts: 1_000_000, max_seconds: 1)
    for i <- 1..5_000 do
      {:ok, _} = DynamicSupervisor.start_child(warm, %{id: "w#{i}", start: {SessionSup, :start_link, [{"w#{i}", bench}]}, type: :supervisor})
    end
    for _ <- 1..5_000, do: receive(do: ({:ready, _, _} -> :ok))
    Process.unlink(warm)
    warm_ref = Process.monitor(warm)
    Process.exit(warm, :shutdown)
    receive(do: ({:DOWN, ^warm_ref, _, _, _} -> :ok))
    n = 10_000
    # The create rate is the median of three rounds of n, as sessionvisor's side takes it: two
    # rounds under supervisors stopped after them, then the round whose sessions are kept.
    earlier_rates =
      for round <- 1..2 do
        {:ok, sup} = DynamicSupervisor.start_link(strategy: :one_for_one, max_restarts: 1_000_000, max_seconds: 1)
        round_ids = for i <- 1..n, do: "r#{round}s#{i}"
        rate = B.rate(n, fn -> start_sessions(sup, round_ids, bench) end)
        for _ <- 1..n, do: receive(do: ({:ready, _, _} -> :ok))
        Process.unlink(sup)
        ref = Process.monitor(sup)
        Process.exit(sup, :shutdown)
        receive(do: ({:DOWN, ^ref, _, _, _} -> :ok))
        rate
      end

    {:ok, dyn} = DynamicSupervisor.start_link(strategy: :one_for_one, max_restarts: 1_000_000, max_seconds: 1)
    :erlang.garbage_collect()
    mem0 = :erlang.memory()
    ids = for i <- 1..n, do: "s#{i}"
    kept_rate = B.rate(n, fn -> start_sessions(dyn, ids, bench) end)
    [slowest, create_rate, fastest] = Enum.sort([kept_rate | earlier_rates])

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
      sessionCreateSlowestRoundPerSec: slowest,
      sessionCreateFastestRoundPerSec: fastest,
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

# ---- the path jidoka builds itself: manager, session tree, ETS, Registry pub/sub, turns ------
# What the seed (an Elixir plan, "jidoka") builds, written as an Elixir programmer would: no
# sleeps, no extra hops, the same events and the same number of words as sessionvisor's bench.

defmodule JPubSub do
  # Phoenix.PubSub's local shape: a duplicate-key Registry, dispatch sends to each subscriber.
  def subscribe(topic), do: Registry.register(JPubSubReg, topic, nil)

  def broadcast(topic, message) do
    Registry.dispatch(JPubSubReg, topic, fn entries -> for {pid, _} <- entries, do: send(pid, message) end)
  end

  def publish(session_id, event) do
    broadcast("sessions", event)
    broadcast("session:" <> session_id, event)
  end
end

defmodule JSubscriber do
  # One global subscriber, as sessionvisor's bench has: it takes every event off its mailbox.
  def start do
    pid = spawn(fn -> JPubSub.subscribe("sessions"); loop() end)
    pid
  end

  defp loop do
    receive do
      {:sync, from} -> send(from, :synced)
      _event -> :ok
    end

    loop()
  end
end

defmodule JConfig do
  # The session config with its defaults, checked field by field (sessionvisor's zod schema).
  @llm %{provider: "offline", model: "offline-1", temperature: 0.2, max_tokens: 1024, system_prompt: nil}
  @limits %{max_history: 100, max_files: 50, max_queued_turns: 8, idle_timeout_ms: 300_000,
            hibernate_after_ms: 0, context_token_budget: 8000}

  def validate(input) when is_map(input) do
    with {:ok, name} <- opt_string(input, :name, 200),
         {:ok, project} <- opt_string(input, :project_path, 4096),
         {:ok, metadata} <- metadata(Map.get(input, :metadata, %{})),
         {:ok, llm} <- llm(Map.get(input, :llm, %{})),
         {:ok, limits} <- limits(Map.get(input, :limits, %{})) do
      {:ok, %{name: name, project_path: project, metadata: metadata, llm: llm, limits: limits}}
    end
  end

  def validate(_), do: {:error, {:invalid, :config}}

  defp opt_string(m, k, max) do
    case Map.get(m, k) do
      nil -> {:ok, nil}
      s when is_binary(s) and byte_size(s) in 1..max -> {:ok, s}
      _ -> {:error, {:invalid, k}}
    end
  end

  defp metadata(m) when is_map(m), do: {:ok, m}
  defp metadata(_), do: {:error, {:invalid, :metadata}}

  defp llm(m) when is_map(m) do
    c = Map.merge(@llm, m)

    cond do
      not (is_binary(c.provider) and byte_size(c.provider) > 0) -> {:error, {:invalid, :provider}}
      not (is_binary(c.model) and byte_size(c.model) in 1..200) -> {:error, {:invalid, :model}}
      not (is_number(c.temperature) and c.temperature >= 0 and c.temperature <= 2) -> {:error, {:invalid, :temperature}}
      not (is_integer(c.max_tokens) and c.max_tokens > 0 and c.max_tokens <= 200_000) -> {:error, {:invalid, :max_tokens}}
      not (is_nil(c.system_prompt) or is_binary(c.system_prompt)) -> {:error, {:invalid, :system_prompt}}
      c.provider not in ["offline"] -> {:error, {:unknown_provider, c.provider}}
      true -> {:ok, c}
    end
  end

  defp llm(_), do: {:error, {:invalid, :llm}}

  defp limits(m) when is_map(m) do
    c = Map.merge(@limits, m)

    cond do
      not (is_integer(c.max_history) and c.max_history in 1..100_000) -> {:error, {:invalid, :max_history}}
      not (is_integer(c.max_files) and c.max_files in 1..10_000) -> {:error, {:invalid, :max_files}}
      not (is_integer(c.max_queued_turns) and c.max_queued_turns in 0..10_000) -> {:error, {:invalid, :max_queued_turns}}
      not (is_integer(c.idle_timeout_ms) and c.idle_timeout_ms >= 0) -> {:error, {:invalid, :idle_timeout_ms}}
      not (is_integer(c.hibernate_after_ms) and c.hibernate_after_ms >= 0) -> {:error, {:invalid, :hibernate_after_ms}}
      not (is_integer(c.context_token_budget) and c.context_token_budget in 256..2_000_000) -> {:error, {:invalid, :context_token_budget}}
      true -> {:ok, c}
    end
  end

  defp limits(_), do: {:error, {:invalid, :limits}}
end

defmodule JContextManager do
  # The session's conversation: appends a turn (kept in ETS, as the store), announces it, and
  # builds the model's context from the newest turns that fit the token budget.
  use GenServer

  def start_link({id, config}) do
    GenServer.start_link(__MODULE__, {id, config}, name: {:via, Registry, {JReg, "context_manager:" <> id}})
  end

  def init({id, config}) do
    # Kept turn by turn, {{id, n}, turn}, as sessionvisor's store keeps them: a turn costs the
    # same however long the history. A new session has none.
    turns = :ets.match_object(:j_conversations, {{id, :_}, :_}) |> Enum.map(&elem(&1, 1)) |> Enum.reverse()
    {:ok, %{id: id, config: config, turns: turns, count: length(turns), next: length(turns) + 1}}
  end

  def handle_call({:append, role, content}, _from, s) do
    turn = %{id: "t#{s.next}", role: role, content: content,
             at: DateTime.to_iso8601(DateTime.utc_now()), status: :complete}
    :ets.insert(:j_conversations, {{s.id, s.next}, turn})
    max = s.config.limits.max_history

    {turns, count} =
      if s.count >= max do
        :ets.delete(:j_conversations, {s.id, s.next - max})
        {Enum.take([turn | s.turns], max), s.count}
      else
        {[turn | s.turns], s.count + 1}
      end

    s = %{s | turns: turns, count: count, next: s.next + 1}
    JPubSub.publish(s.id, %{type: :message_added, session_id: s.id, turn: turn})
    {:reply, {:ok, turn}, s}
  end

  def handle_call(:build_context, _from, s) do
    budget = s.config.limits.context_token_budget
    head = if s.config.llm.system_prompt, do: [%{role: :system, content: s.config.llm.system_prompt}], else: []
    # turns are newest first: take while they fit, and the result comes out oldest first.
    {messages, used} =
      Enum.reduce_while(s.turns, {[], 0}, fn t, {acc, used} ->
        cost = div(byte_size(t.content) + 3, 4)
        if used + cost <= budget, do: {:cont, {[%{role: t.role, content: t.content} | acc], used + cost}}, else: {:halt, {acc, used}}
      end)

    {:reply, {:ok, %{messages: head ++ messages, tokens: used}}, s}
  end
end

defmodule JOrchestrator do
  # One turn inside the call: user turn appended, context built, the offline model's reply
  # streamed word by word as delta events, the reply appended, the turn's end announced.
  use GenServer

  def start_link({id, config}) do
    GenServer.start_link(__MODULE__, {id, config}, name: {:via, Registry, {JReg, "llm_orchestrator:" <> id}})
  end

  def init({id, config}), do: {:ok, %{id: id, config: config, cm: {:via, Registry, {JReg, "context_manager:" <> id}}}}

  def handle_call({:send, text}, _from, s) when is_binary(text) and byte_size(text) > 0 do
    id = s.id
    {:ok, user} = GenServer.call(s.cm, {:append, :user, text})
    JPubSub.publish(id, %{type: :turn_started, session_id: id, turn_id: user.id, queued: 0})
    {:ok, context} = GenServer.call(s.cm, :build_context)
    reply =
      Enum.reduce(words(answer(context.messages)), "", fn word, acc ->
        JPubSub.publish(id, %{type: :llm_delta, session_id: id, turn_id: user.id, text: word})
        acc <> word
      end)

    {:ok, _} = GenServer.call(s.cm, {:append, :assistant, reply})
    usage = %{input_tokens: context.tokens, output_tokens: div(byte_size(reply) + 3, 4)}
    JPubSub.publish(id, %{type: :llm_done, session_id: id, turn_id: user.id, text: reply, usage: usage, stop_reason: "end"})
    {:reply, {:ok, %{turn_id: user.id, text: reply, usage: usage, stop_reason: "end"}}, s}
  end

  # The offline model's "echo <text>", in the chunks sessionvisor's gives (a word and the
  # space after it). Split on spaces rather than with a regex: PCRE's global scan costs about
  # 10 µs here, more than the rest of the stream, and single-spaced text needs none.
  defp answer(messages) do
    %{content: said} = List.last(messages)
    said = String.trim(said)
    case said do
      "echo " <> rest -> rest
      other -> other
    end
  end

  defp words(text) do
    {init, last} = text |> String.split(" ") |> Enum.split(-1)
    Enum.map(init, &(&1 <> " ")) ++ last
  end
end

defmodule JSessionSup do
  use Supervisor

  def start_link({id, config}) do
    Supervisor.start_link(__MODULE__, {id, config}, name: {:via, Registry, {JReg, "session_supervisor:" <> id}})
  end

  def init({id, config}) do
    Supervisor.init(
      [
        %{id: :context_manager, start: {JContextManager, :start_link, [{id, config}]}},
        %{id: :llm_orchestrator, start: {JOrchestrator, :start_link, [{id, config}]}}
      ],
      strategy: :one_for_one
    )
  end
end

defmodule JSessionManager do
  # Validates the config, makes an id, starts the session tree under the DynamicSupervisor,
  # monitors it, keeps it in ETS and announces it (created, then its status) on both topics.
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, nil, name: JSessionManager)
  def create(config), do: GenServer.call(JSessionManager, {:create, config})
  def terminate(id), do: GenServer.call(JSessionManager, {:terminate, id})

  def init(nil) do
    :ets.new(:j_sessions, [:named_table, :set, :protected, read_concurrency: true])
    {:ok, %{monitors: %{}}}
  end

  def handle_call({:create, input}, _from, s) do
    with {:ok, config} <- JConfig.validate(input),
         id = uuid4(),
         {:ok, pid} <- DynamicSupervisor.start_child(JSessions, %{id: id, start: {JSessionSup, :start_link, [{id, config}]}, type: :supervisor, restart: :temporary}) do
      ref = Process.monitor(pid)
      now = DateTime.utc_now()
      info = %{id: id, name: config.name, project_path: config.project_path, status: :initializing,
               previous_status: nil, metadata: config.metadata, llm: config.llm, limits: config.limits,
               created_at: now, updated_at: now, status_changed_at: now, restarts: 0}
      :ets.insert(:j_sessions, {id, info, pid, config})
      JPubSub.publish(id, %{type: :session_created, session_id: id, at: DateTime.to_iso8601(now), info: info})
      at = DateTime.utc_now()
      info = %{info | status: :active, previous_status: :initializing, updated_at: at, status_changed_at: at}
      :ets.insert(:j_sessions, {id, info, pid, config})
      JPubSub.publish(id, %{type: :session_status, session_id: id, status: :active, previous_status: :initializing, at: DateTime.to_iso8601(at)})
      {:reply, {:ok, info}, %{s | monitors: Map.put(s.monitors, ref, id)}}
    else
      {:error, reason} -> {:reply, {:error, reason}, s}
    end
  end

  def handle_call({:terminate, id}, _from, s) do
    [{^id, _info, pid, _}] = :ets.lookup(:j_sessions, id)
    :ok = DynamicSupervisor.terminate_child(JSessions, pid)
    :ets.delete(:j_sessions, id)
    :ets.match_delete(:j_conversations, {{id, :_}, :_})
    {:reply, :ok, s}
  end

  def handle_info({:DOWN, ref, :process, _, _}, s), do: {:noreply, %{s | monitors: Map.delete(s.monitors, ref)}}

  defp uuid4 do
    <<a::48, _::4, b::12, _::2, c::62>> = :crypto.strong_rand_bytes(16)
    <<u0::32, u1::16, u2::16, u3::16, u4::48>> = <<a::48, 4::4, b::12, 2::2, c::62>>
    hex = fn v, n -> v |> Integer.to_string(16) |> String.pad_leading(n, "0") |> String.downcase() end
    Enum.join([hex.(u0, 8), hex.(u1, 4), hex.(u2, 4), hex.(u3, 4), hex.(u4, 12)], "-")
  end
end

defmodule Jidoka do
  # The same message as bench/sessions.ts TURN_MESSAGE: the offline model echoes its nine words.
  @turn_message "echo the quick brown fox jumps over the lazy dog"

  def boot do
    if Process.whereis(JSessionManager) == nil do
      {:ok, _} = Registry.start_link(keys: :unique, name: JReg)
      {:ok, _} = Registry.start_link(keys: :duplicate, name: JPubSubReg)
      :ets.new(:j_conversations, [:named_table, :set, :public])
      {:ok, _} = DynamicSupervisor.start_link(strategy: :one_for_one, name: JSessions, max_restarts: 1_000_000, max_seconds: 1)
      {:ok, _} = JSessionManager.start_link(nil)
      sub = JSubscriber.start()
      # Subscribed before anything is published.
      send(sub, {:sync, self()})
      receive(do: (:synced -> :ok))
    end
  end

  def create do
    boot()
    for _ <- 1..5_000, do: {:ok, _} = JSessionManager.create(%{})
    for [id] <- :ets.match(:j_sessions, {:"$1", :_, :_, :_}), do: :ok = JSessionManager.terminate(id)
    :erlang.garbage_collect()
    n = 10_000
    rate = B.rate(n, fn -> for _ <- 1..n, do: {:ok, _} = JSessionManager.create(%{}) end)
    %{createSessionPerSec: rate}
  end

  def turn do
    boot()
    ids = for _ <- 1..100, do: elem(JSessionManager.create(%{}), 1).id
    via = fn id -> {:via, Registry, {JReg, "llm_orchestrator:" <> id}} end
    # Warm-up as on sessionvisor's side: 5,000 turns on 100 sessions that are not measured.
    warm = for _ <- 1..100, do: elem(JSessionManager.create(%{}), 1).id
    warmt = List.to_tuple(warm)
    for i <- 0..4_999, do: {:ok, _} = GenServer.call(via.(elem(warmt, rem(i, 100))), {:send, "echo warm"})
    idt = List.to_tuple(ids)

    samples =
      for i <- 0..4_999 do
        target = via.(elem(idt, rem(i, 100)))
        t0 = B.now()
        {:ok, %{text: "the quick brown fox jumps over the lazy dog"}} = GenServer.call(target, {:send, @turn_message})
        B.now() - t0
      end

    {med, p99} = B.lat_us(samples)
    %{turnMedianUs: med, turnP99Us: p99}
  end
end

defmodule Json do
  def encode(m) when is_map(m), do: "{" <> Enum.map_join(m, ",", fn {k, v} -> encode(to_string(k)) <> ":" <> encode(v) end) <> "}"
  def encode(s) when is_binary(s), do: "\"" <> String.replace(s, "\"", "\\\"") <> "\""
  def encode(n) when is_integer(n), do: Integer.to_string(n)
  def encode(n) when is_float(n), do: :erlang.float_to_binary(n, [:compact, decimals: 4])
end

suites = if System.argv() == [], do: ["core", "session", "create", "turn"], else: System.argv()

results =
  for suite <- suites, into: %{} do
    case suite do
      "core" -> {"core", Core.run()}
      "session" -> {"session", Session.run()}
      "create" -> {"create", Jidoka.create()}
      "turn" -> {"turn", Jidoka.turn()}
      other -> {other, %{}}
    end
  end

IO.puts(Json.encode(%{otp: System.otp_release(), elixir: System.version(), suites: results}))
