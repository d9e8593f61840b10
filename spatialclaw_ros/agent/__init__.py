"""The code-as-action agent loop (ROS-free).

Entry point: :func:`spatialclaw_ros.agent.runner.run_query`. Modules: ``types`` (what crosses the
boundary), ``runner`` (validation, kernel, result), ``executors`` (code, tool_call, single_pass,
no_tool, given program), ``loop`` (one running query: VLM calls, cells, budgets, progress),
``answers`` (ReturnAnswer validation), ``feedback`` (what the model sees after a cell), ``prompts``
(every prompt, built from the kernel API docstrings), ``metadata`` (the kernel's ``Metadata``) and
``transcript`` (JSONL + self-contained HTML per query). Importing this package stays cheap: nothing
heavy is imported here.
"""
