"""Random fillings of a spec, for samples, property tests and benchmarks.

Values are drawn at random, then each rule's kind makes them consistent its own way
(:func:`pipeline.rules.fill`): nothing here names a figure or a rule.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from .rules import fill
from .spec import Figure, RuleInstance, Spec, recompute


def _draw(spec: Spec, fig: Figure, rng: random.Random, scale: int) -> float | int:
    t = spec.types[fig.type]
    # Most applicants are 自然人: grouped applicant columns (法人或其他组织) are mostly empty.
    if rng.random() < (0.9 if fig.column_group else 0.55):
        return 0
    if t.number == "decimal":
        return round(rng.uniform(0, scale * 3), 2)
    if t.min is None:
        return rng.randint(-scale, scale)
    return rng.randint(1, scale)


def totals(spec: Spec, values: dict[str, Any]) -> dict[str, float]:
    """Every figure's value, computed ones recomputed from the inputs (see :func:`pipeline.spec.recompute`)."""
    return recompute(spec, values)


def random_values(spec: Spec, rng: random.Random, scale: int = 6) -> dict[str, Any]:
    """Every input drawn at random within its type, no rule considered."""
    return {f.id: _draw(spec, f, rng, scale) for f in spec.inputs()}


def consistent_values(spec: Spec, rng: random.Random, *, office_kind: str | None = None, scale: int = 6,
                      level: str = "county", skip: Callable[[RuleInstance], bool] | None = None) -> dict[str, Any]:
    """A random filling of every input that passes every rule of the spec (but those ``skip`` names)."""
    return fill(spec, random_values(spec, rng, scale), office_kind, level, skip)


# Each office writes its own text: parts drawn from these by the office's index, so that no two offices'
# texts are alike (the peer-similarity rule would rightly flag them).
_OPENINGS = [
    "坚持以公开为常态、不公开为例外，把政务公开融入日常工作",
    "围绕中心工作和群众关切，持续深化政务公开",
    "按照县政务公开工作要点的部署，逐项抓好落实",
    "以提升公开质量为重点，健全公开工作机制",
    "结合本单位职能，细化年度公开任务清单",
    "把政府信息公开作为转变作风的重要抓手",
]
_ACTIVE = [
    "通过门户网站主动公开政府信息{n1}条，及时更新机构职能、财政预决算等法定公开内容。",
    "主动公开各类政府信息{n1}条，重点做好“双随机、一公开”和政策文件的发布。",
    "依托政务公开专栏发布工作动态、通知公告{n1}条，政策解读{n2}篇。",
    "全年主动公开信息{n1}条，其中政策文件{n2}件，均同步发布了解读材料。",
    "在政府网站和微信公众号同步公开信息{n1}条，便民服务信息实现一站查询。",
    "围绕乡村振兴、民生保障等领域主动公开信息{n1}条。",
]
_APPLY = [
    "全年共收到政府信息公开申请{received}件，办结{done}件，均在法定期限内答复。",
    "本年度受理政府信息公开申请{received}件，办结{done}件，未发生超期答复。",
    "依申请公开方面，新收申请{received}件，办结{done}件，答复格式全部使用规范文书。",
    "全年收到政府信息公开申请{received}件、办结{done}件，对申请人提出的问题逐一登记、限时办理。",
]
_MANAGE = [
    "严格执行公开前保密审查，全年未发生泄密事件。",
    "建立公开属性源头认定机制，公文办理时同步明确公开方式。",
    "定期清理已公开的规范性文件，及时标注失效、废止情况。",
    "完善信息发布审核流程，坚持“先审后发、谁发布谁负责”。",
]
_PLATFORM = [
    "加强政府网站信息公开专栏建设，栏目设置与县政府网站保持一致。",
    "对政务公开专栏进行了改版，增加了办事指南和常见问题栏目。",
    "在办事大厅设置政府信息查阅点，方便群众现场查阅。",
    "利用村（社区）公开栏同步公开与群众切身利益相关的事项。",
]
_OVERSIGHT = [
    "将政务公开纳入年度目标考核，全年未发生因信息公开引起的责任追究。",
    "组织开展政务公开业务培训2次，接受县政务公开办检查1次。",
    "主动接受社会监督，在网站公布了监督举报电话。",
    "落实政务公开工作责任制，明确专人负责信息发布与申请办理。",
]
_PROBLEMS = [
    "存在的主要问题：政策解读形式较为单一，以文字解读为主。改进情况：下一步将增加图解、视频等解读方式，提升可读性。",
    "存在的问题：部分栏目更新不够及时。改进措施：建立栏目更新台账，明确更新时限，每月自查一次。",
    "问题：工作人员业务水平有待提高，答复文书不够规范。改进：组织参加上级培训，学习依申请公开答复规范。",
    "存在的不足：基层公开内容与群众需求贴合不够。下一步将开展公开需求调查，按需调整公开内容。",
    "主要问题是公开信息的规范化程度不高，个别信息要素不全。今后将对照标准目录逐项完善。",
    "存在的问题：依申请公开办理流程中的登记环节不够规范。改进：启用统一登记簿，做到每件有据可查。",
    "存在的问题：网站信息检索不便，群众反映查找文件较难。改进：完善栏目分类和关键词标注，方便公众查找。",
    "问题：对政策执行情况的公开不够及时，群众关注的事项回应偏慢。改进：对重点政策的落实情况按季度公开。",
    "问题：公开工作与业务工作结合不够紧密。改进：把公开要求嵌入业务流程，做到同步部署、同步公开。",
    "问题：政务新媒体的互动回应不够及时，个别留言超过一周才答复。改进：明确回复时限，指定专人值守。",
    "问题：公开内容多为工作动态，实质性信息偏少。改进：加大财政资金、项目建设等信息的公开力度。",
    "问题：街道公开栏内容更新滞后，部分社区公开栏长期未更换。改进：每月由专人检查更新，重要事项随时公开。",
]
_OTHER = ["无其他需要报告的事项。", "年度公开要点任务均已落实。", "建议提案办理结果已公开。", "无其他事项。"]


def consistent_prose(spec: Spec, values: dict[str, Any], year: int | None = None, office: str = "本单位",
                     index: int = 0) -> dict[str, str]:
    """Texts for sections 一、五、六 (and 一's topics, where the format has them) that every prose rule accepts
    for these figures; offices of different ``index`` (0–11) write differently."""
    t = recompute(spec, values)
    pick = lambda pool, k=1: pool[(index * k + k) % len(pool)]  # noqa: E731 - a different mix for each office
    fill_in = {"received": f"{t['t3.new.total']:g}", "done": f"{t['t3.outcome_total.total']:g}",
               "n1": 20 + 13 * index, "n2": 2 + index % 5}
    topics = [pick(_ACTIVE, 5).format(**fill_in), pick(_APPLY, 7).format(**fill_in), pick(_MANAGE, 3),
              pick(_PLATFORM, 11), pick(_OVERSIGHT, 13)]
    intro = f"{year or spec.years[0]}年，{office}{pick(_OPENINGS)}。"
    s6 = pick(_OTHER, 17)
    if spec.has_figure("t6.fee.collected_amount.value"):
        collected = t["t6.fee.collected_amount.value"]
        notices = f"发出收费通知{t['t6.fee.notices.value']:g}件，" if t["t3.other_fee_unpaid.total"] else ""
        s6 = (f"本年度{notices}收取信息处理费{collected:g}元。" if collected or notices else "本年度未收取信息处理费。") + s6
    out = {"s5": _PROBLEMS[index % len(_PROBLEMS)], "s6": s6}
    fields = [f for f in spec.prose.fields if f.section == "s1" and f.label]
    if fields:  # the format's 一 has topics: one cell each
        out["s1"] = intro
        out.update({f.id: text for f, text in zip(fields, topics)})
    else:
        out["s1"] = intro + "".join(topics)
    return out
